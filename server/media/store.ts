import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { sql } from 'drizzle-orm';
import pLimit from 'p-limit';
import type { Database } from '../db/client.ts';

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

/**
 * Chunks fetched per query while serving: 256 KiB in memory at most per
 * download (with 8, a thousand readers that stopped reading held 2 GB).
 */
const READ_BATCH = 1;

/**
 * Queries reading chunks at once, over all downloads: they share the API's
 * pool, and many readers must not take every connection from the API.
 */
const CONCURRENT_READS = 3;

/**
 * A chunk goes to PostgreSQL as one COPY in binary format, written from one
 * buffer reused for the whole upload: an INSERT would send the bytes as hex
 * text (postgres.js has no binary parameters), and every throw-away copy of a
 * chunk is memory the garbage collector reclaims late, which made a process
 * grow by ~90 MB during a 200 MB upload (bench/REPORT.md, "Media uploads").
 */
const TRAILER = Buffer.from([0xff, 0xff]);

class CopyFrame {
  private readonly buffer: Buffer;
  private readonly dataAt: number;
  filled = 0;

  constructor(
    private readonly id: string,
    readonly capacity: number,
  ) {
    const idBytes = Buffer.from(id, 'latin1');
    // PGCOPY signature, flags, header extension; then the tuple: 3 fields (id, seq, data).
    const head = Buffer.alloc(19 + 2 + 4 + idBytes.length + 4 + 4 + 4);
    head.write('PGCOPY\n\xff\r\n\0', 0, 'latin1');
    let at = head.writeInt16BE(3, 19);
    at = head.writeInt32BE(idBytes.length, at);
    at += idBytes.copy(head, at);
    head.writeInt32BE(4, at);
    this.dataAt = head.length;
    this.buffer = Buffer.allocUnsafe(this.dataAt + capacity);
    head.copy(this.buffer);
  }

  /** Copies as much of `data` as fits; returns what did not. */
  fill(data: Buffer): Buffer {
    const take = Math.min(data.length, this.capacity - this.filled);
    data.copy(this.buffer, this.dataAt + this.filled, 0, take);
    this.filled += take;
    return data.subarray(take);
  }

  /** The COPY stream for chunk `seq` of what was filled. */
  frame(seq: number): Buffer[] {
    this.buffer.writeInt32BE(seq, this.dataAt - 8);
    this.buffer.writeInt32BE(this.filled, this.dataAt - 4);
    return [this.buffer.subarray(0, this.dataAt + this.filled), TRAILER];
  }
}

export function postgresMediaStore(database: Database, chunkSize = CHUNK_SIZE): MediaStore {
  const { db } = database;
  const reading = pLimit(CONCURRENT_READS);
  return {
    chunkSize,

    async write(id, source) {
      const hash = createHash('sha256');
      const frame = new CopyFrame(id, chunkSize);
      let seq = 0;
      let size = 0;
      const flush = async () => {
        // A COPY per chunk: the connection is held for one chunk, not for a slow client's whole upload.
        // It resolves once PostgreSQL has the row, so the frame can be refilled.
        const copy =
          await database.sql`copy media_chunks (media_id, seq, data) from stdin with (format binary)`.writable();
        await pipeline(frame.frame(seq), copy);
        seq++;
        frame.filled = 0;
      };
      for await (const data of source as AsyncIterable<Buffer>) {
        hash.update(data);
        size += data.length;
        let rest = data;
        while (rest.length > 0) {
          rest = frame.fill(rest);
          if (frame.filled === frame.capacity) await flush();
        }
      }
      if (frame.filled > 0) await flush();
      return { size, sha256: hash.digest('hex') };
    },

    async *read(id, start, end, storedChunkSize) {
      const first = Math.floor(start / storedChunkSize);
      const last = Math.floor(end / storedChunkSize);
      for (let from = first; from <= last; from += READ_BATCH) {
        const to = Math.min(last, from + READ_BATCH - 1);
        const rows = await reading(() =>
          db.execute<{ seq: number; data: Buffer }>(sql`
            select seq, data from media_chunks
            where media_id = ${id} and seq between ${from} and ${to} order by seq`),
        );
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
