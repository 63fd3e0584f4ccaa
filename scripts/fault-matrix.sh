#!/usr/bin/env bash
# The stall test of test/faults.test.ts at 30 s and 90 s, concurrency 10 and 50, three runs each
# (issue: "zero duplicates"). npm test runs it once at 30 s / 50. Prints one line per run.
set -u
cd "$(dirname "$0")/.."
for stall in 30 90; do
  for concurrency in 10 50; do
    for run in 1 2 3; do
      out=$(FAULT_STALL_S=$stall FAULT_CONCURRENCY=$concurrency npx vitest run test/faults.test.ts -t stall 2>&1)
      result=$(printf '%s\n' "$out" | sed 's/\x1b\[[0-9;]*m//g' | grep -aoE 'Tests +[0-9]+ (passed|failed)' | head -1)
      figures=$(printf '%s\n' "$out" | grep -ao 'fault: .*' | head -1)
      echo "stall ${stall}s concurrency ${concurrency} run ${run}: ${result:-no result}; ${figures}"
    done
  done
done
