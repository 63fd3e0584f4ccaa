/**
 * Making an upload Meta-ready. Images: decoded (HEIC through heic-decode,
 * since sharp's prebuilt libvips reads HEIF only with AV1 inside, i.e.
 * AVIF), oriented, stripped of every metadata block, sRGB JPEG of at most
 * 1440 px and 8 MB. Videos: kept as sent; their top-level boxes are walked
 * as the bytes stream by and only `ftyp` and `moov` are kept and given to
 * mp4box (GPAC's parser) to read container, codec, duration and size, so a
 * 300 MB file costs the size of its index, not of its samples.
 */
import { open, readFile, stat } from 'node:fs/promises';
import decodeHeic from 'heic-decode';
import { createFile, type Movie } from 'mp4box';
import pLimit from 'p-limit';
import sharp, { type OutputInfo, type Sharp } from 'sharp';

export const IMAGE_TYPES = ['image/jpeg', 'image/png', 'image/heic', 'image/heif', 'image/webp'] as const;
export const VIDEO_TYPES = ['video/mp4', 'video/quicktime'] as const;

export const IMAGE_MAX_BYTES = 30 * 1024 * 1024;
export const VIDEO_MAX_BYTES = 300 * 1024 * 1024;
/** Meta's limits for what we hand it (docs/graph-api.md). */
export const JPEG_MAX_BYTES = 8 * 1024 * 1024;
export const MAX_SIDE = 1440;
export const REEL_MIN_MS = 3_000;
export const REEL_MAX_MS = 15 * 60_000;

/** The file was not what it claimed, or not readable at all: 400 MEDIA_UNREADABLE. */
export class UnreadableMedia extends Error {
  override name = 'UnreadableMedia';
}

/** The file was read, and Instagram would not take it: 400 MEDIA_REJECTED. */
export class RejectedMedia extends Error {
  override name = 'RejectedMedia';
}

sharp.cache(false);

// A decoded 12-megapixel photo is ~50 MB of pixels: two at a time (one per core) keeps memory bounded
// however many clients upload at once; the others wait their turn.
const converting = pLimit(2);

export interface ConvertedImage {
  data: Buffer;
  width: number;
  height: number;
}

const isHeif = (head: Buffer) =>
  head.length >= 12 &&
  head.toString('latin1', 4, 8) === 'ftyp' &&
  ['heic', 'heix', 'hevc', 'hevx', 'mif1', 'msf1', 'heim', 'heis'].includes(head.toString('latin1', 8, 12));

async function readHead(path: string): Promise<Buffer> {
  const file = await open(path);
  try {
    const { buffer, bytesRead } = await file.read(Buffer.alloc(12), 0, 12, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await file.close();
  }
}

/**
 * Even a blank compressed image takes some bytes per pixel (a bit or more per
 * 8×8 block); a file far smaller than its header's dimensions claim has no
 * image data behind the header (cut short, or forged to make us decode a huge
 * canvas of nothing, which libvips would fill with grey and call a warning).
 * Checked from the header alone, before anything is decoded.
 */
const MIN_BYTES_PER_MEGAPIXEL = 1000;

async function assertHasImageData(path: string, image: Sharp): Promise<void> {
  let meta: { width?: number | undefined; height?: number | undefined };
  try {
    meta = await image.metadata();
  } catch {
    throw new UnreadableMedia('The image could not be decoded.');
  }
  const megapixels = ((meta.width ?? 0) * (meta.height ?? 0)) / 1_000_000;
  const { size } = await stat(path);
  if (size < megapixels * MIN_BYTES_PER_MEGAPIXEL)
    throw new UnreadableMedia(
      `The image says it is ${meta.width}×${meta.height} but has only ${size} bytes: it is cut short or has no image data.`,
    );
}

/** Converts the image file at `path` (at most IMAGE_MAX_BYTES) to what Meta accepts. */
export function convertImage(path: string): Promise<ConvertedImage> {
  return converting(async () => {
    let image: Sharp;
    if (isHeif(await readHead(path))) {
      let decoded: { width: number; height: number; data: Uint8ClampedArray };
      try {
        // heic-decode takes the whole file (at most 30 MB); libheif applies its rotation and mirroring (irot/imir).
        decoded = await decodeHeic({ buffer: await readFile(path) });
      } catch {
        throw new UnreadableMedia('The HEIC file could not be decoded.');
      }
      image = sharp(Buffer.from(decoded.data.buffer, decoded.data.byteOffset, decoded.data.byteLength), {
        raw: { width: decoded.width, height: decoded.height, channels: 4 },
      });
    } else {
      // From the file: libvips reads what it needs, the compressed image is never held whole.
      image = sharp(path, { failOn: 'error' });
      await assertHasImageData(path, image);
      image = image.rotate();
    }
    const pipeline = image
      .resize({ width: MAX_SIDE, height: MAX_SIDE, fit: 'inside', withoutEnlargement: true })
      .flatten({ background: '#ffffff' })
      .toColourspace('srgb');
    // sharp writes no metadata unless asked (no EXIF, GPS, XMP or IPTC); the ICC profile is converted to sRGB.
    for (const quality of [90, 80, 70, 60]) {
      let result: { data: Buffer; info: OutputInfo };
      try {
        result = await pipeline
          .clone()
          .jpeg({ quality, chromaSubsampling: '4:2:0' })
          .toBuffer({ resolveWithObject: true });
      } catch {
        throw new UnreadableMedia('The image could not be decoded.');
      }
      if (result.data.length <= JPEG_MAX_BYTES)
        return { data: result.data, width: result.info.width, height: result.info.height };
    }
    throw new RejectedMedia('The image stays above 8 MB as a JPEG even at quality 60.');
  });
}

export interface VideoFacts {
  container: 'mp4' | 'mov';
  codec: string;
  durationMs: number;
  width: number;
  height: number;
}

/** Top-level boxes whose bytes the parser needs; everything else (mdat, free, wide) is skipped unread. */
const KEPT_BOXES = new Set(['ftyp', 'moov']);
/** A moov larger than this is not a phone video. */
const MAX_KEPT_BYTES = 32 * 1024 * 1024;

/**
 * Follows the top-level ISO BMFF boxes as the file streams by (`push` each
 * piece in order, then `finish`).
 */
export class VideoProbe {
  private kept: Buffer[] = [];
  private keptBytes = 0;
  private header = Buffer.alloc(0);
  /** Bytes left in the current box, and whether they are kept. */
  private remaining = 0;
  private keeping = false;
  private toEnd = false;
  private broken: string | null = null;

  push(data: Buffer): void {
    let offset = 0;
    while (offset < data.length && this.broken === null) {
      if (this.toEnd) return;
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, data.length - offset);
        if (this.keeping) this.keep(data.subarray(offset, offset + take));
        this.remaining -= take;
        offset += take;
        continue;
      }
      // A box header: 8 bytes, or 16 with a 64-bit size.
      const need = this.header.length >= 8 && this.header.readUInt32BE(0) === 1 ? 16 : 8;
      const take = Math.min(need - this.header.length, data.length - offset);
      this.header = Buffer.concat([this.header, data.subarray(offset, offset + take)]);
      offset += take;
      if (this.header.length < need) continue;
      const size32 = this.header.readUInt32BE(0);
      if (size32 === 1 && need === 8) continue;
      const type = this.header.toString('latin1', 4, 8);
      const size = size32 === 1 ? Number(this.header.readBigUInt64BE(8)) : size32;
      const header = this.header;
      this.header = Buffer.alloc(0);
      if (size32 !== 0 && size < header.length) {
        this.broken = 'a box has an impossible size';
        return;
      }
      this.keeping = KEPT_BOXES.has(type);
      if (this.keeping) this.keep(header);
      if (size32 === 0) {
        // "To the end of the file": only an mdat does that in practice.
        this.toEnd = !this.keeping;
        this.remaining = this.keeping ? Number.MAX_SAFE_INTEGER : 0;
      } else this.remaining = size - header.length;
    }
  }

  private keep(piece: Buffer): void {
    this.keptBytes += piece.length;
    if (this.keptBytes > MAX_KEPT_BYTES) {
      this.broken = 'its index (moov) is too large';
      return;
    }
    this.kept.push(Buffer.from(piece));
  }

  finish(): VideoFacts {
    if (this.broken) throw new UnreadableMedia(`The video could not be read: ${this.broken}.`);
    const bytes = Buffer.concat(this.kept);
    const file = createFile(false);
    let movie: Movie | undefined;
    file.onReady = (info) => {
      movie = info;
    };
    const buffer = bytes.buffer.slice(
      bytes.byteOffset,
      bytes.byteOffset + bytes.byteLength,
    ) as ArrayBuffer & {
      fileStart: number;
    };
    buffer.fileStart = 0;
    // mp4box reports every box it does not know (QuickTime's ©-tags) with console.error, at a level
    // that cannot be turned off; the parse is synchronous, so silencing the console for it hides nothing else.
    const consoleError = console.error;
    console.error = () => {};
    try {
      file.appendBuffer(buffer, true);
      file.flush();
    } catch {
      throw new UnreadableMedia('The video could not be read as MP4 or MOV.');
    } finally {
      console.error = consoleError;
    }
    if (!movie || !movie.hasMoov)
      throw new UnreadableMedia('The video could not be read as MP4 or MOV (no movie header found).');
    const video = movie.videoTracks[0];
    if (!video) throw new RejectedMedia('The file has no video track.');
    const major =
      bytes.length >= 12 && bytes.toString('latin1', 4, 8) === 'ftyp'
        ? bytes.toString('latin1', 8, 12)
        : 'qt  ';
    const timescale = movie.timescale || 1;
    const durationMs = Math.round((movie.duration / timescale) * 1000);
    // A phone records portrait video as landscape samples plus a 90° turn in the track header.
    const turned = video.matrix && video.matrix[0] === 0;
    const width = Math.round(video.video?.width ?? video.track_width);
    const height = Math.round(video.video?.height ?? video.track_height);
    return {
      container: major === 'qt  ' ? 'mov' : 'mp4',
      codec: video.codec,
      durationMs,
      width: turned ? height : width,
      height: turned ? width : height,
    };
  }
}

/** Meta's limits for a reel (GRAPH_API.md "Media rules"): refuses with the reason and the fix. */
export function checkReel(facts: VideoFacts, size: number): void {
  if (!/^(avc1|avc3|hvc1|hev1)/.test(facts.codec))
    throw new RejectedMedia(
      `The video is encoded as ${facts.codec.split('.')[0]}; Instagram takes H.264 or HEVC: export it as H.264 MP4.`,
    );
  const seconds = (facts.durationMs / 1000).toFixed(1);
  if (facts.durationMs < REEL_MIN_MS)
    throw new RejectedMedia(`The video lasts ${seconds} s; a reel lasts 3 s to 15 min.`);
  if (facts.durationMs > REEL_MAX_MS)
    throw new RejectedMedia(`The video lasts ${seconds} s; a reel lasts 3 s to 15 min: trim it.`);
  if (size > VIDEO_MAX_BYTES) throw new RejectedMedia('The video is over 300 MB.');
}
