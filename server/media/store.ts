import { createHash } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { Db } from '../db/client.ts';

/**
 * Where an upload's bytes live. PostgreSQL by default, so every API process
 * serves every file with nothing else to run; an object store would be
 * another implementation of this (plus deleting its objects when retention
 * deletes the rows).
 */
export interface MediaStore {
  /** Bytes per stored piece; Range requests are served in these. */
  readonly chunkSize: number;
  /**
   * Stores the file's bytes as they arrive, never holding more than a chunk;
   * the media row exists already. Resolves with the size and SHA-256 (hex).
   */
  write(
    id: string,
    source: AsyncIterable<Buffer> | Iterable<Buffer>,
  ): Promise<{ size: number; sha256: string }>;
  /** Bytes `start` to `end` (inclusive) of the file; ends early when the file is deleted meanwhile. */
  read(id: string, start: number, end: number, chunkSize: number): AsyncIterable<Buffer>;
}

/** 256 KiB: a 300 MB video is 1200 rows; a Range request reads at most one chunk it does not need at each end. */
export const CHUNK_SIZE = 256 * 1024;

/** Chunks fetched per query while serving: 2 MiB in memory at most per download. */
const READ_BATCH = 8;

export function postgresMediaStore(db: Db, chunkSize = CHUNK_SIZE): MediaStore {
  return {
    chunkSize,

    async write(id, source) {
      const hash = createHash('sha256');
      let pending: Buffer[] = [];
      let pendingBytes = 0;
      let seq = 0;
      let size = 0;
      const flush = async (piece: Buffer) => {
        await db.execute(
          sql`insert into media_chunks (media_id, seq, data) values (${id}, ${seq}, ${piece})`,
        );
        seq++;
      };
      for await (const data of source) {
        hash.update(data);
        size += data.length;
        pending.push(data);
        pendingBytes += data.length;
        while (pendingBytes >= chunkSize) {
          const joined = Buffer.concat(pending, pendingBytes);
          await flush(joined.subarray(0, chunkSize));
          const rest = joined.subarray(chunkSize);
          pending = rest.length > 0 ? [Buffer.from(rest)] : [];
          pendingBytes = rest.length;
        }
      }
      if (pendingBytes > 0) await flush(Buffer.concat(pending, pendingBytes));
      return { size, sha256: hash.digest('hex') };
    },

    async *read(id, start, end, storedChunkSize) {
      const first = Math.floor(start / storedChunkSize);
      const last = Math.floor(end / storedChunkSize);
      for (let from = first; from <= last; from += READ_BATCH) {
        const to = Math.min(last, from + READ_BATCH - 1);
        const rows = await db.execute<{ seq: number; data: Buffer }>(sql`
          select seq, data from media_chunks
          where media_id = ${id} and seq between ${from} and ${to} order by seq`);
        if (rows.length !== to - from + 1) return;
        for (const row of rows) {
          const offset = row.seq * storedChunkSize;
          const sliceStart = Math.max(0, start - offset);
          const sliceEnd = Math.min(row.data.length, end - offset + 1);
          yield row.data.subarray(sliceStart, sliceEnd);
        }
      }
    },
  };
}
