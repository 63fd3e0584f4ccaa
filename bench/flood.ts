/**
 * A load generator in a process of its own (so the client measuring a
 * bystander is not the one juggling the flood): fires `count` concurrent
 * requests at `url`, each a POST of `{username, password: "guess <i>"}` when
 * a username is given, else a GET, and prints the status counts as JSON.
 */
const [url, count, username] = process.argv.slice(2);
const statuses: Record<string, number> = {};
const started = performance.now();
await Promise.all(
  Array.from({ length: Number(count) }, async (_, i) => {
    const res = await fetch(
      url!,
      username
        ? {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ username, password: `guess ${i}` }),
          }
        : {},
    );
    await res.text();
    statuses[res.status] = (statuses[res.status] ?? 0) + 1;
  }),
);
process.stdout.write(`${JSON.stringify({ statuses, ms: Math.round(performance.now() - started) })}\n`);
