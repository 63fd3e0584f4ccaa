import { readFileSync } from 'node:fs';
import sharp, { type Sharp } from 'sharp';

/** Small real files made with ffmpeg and heif-enc (test/fixtures/media/README.md says how). */
export const fixture = (name: string): Buffer =>
  readFileSync(new URL(`../fixtures/media/${name}`, import.meta.url));

/** A picture with something in each corner, so a wrong turn shows in the pixels. */
async function pattern(width: number, height: number): Promise<Sharp> {
  const corner = await sharp({
    create: {
      width: Math.floor(width / 4),
      height: Math.floor(height / 4),
      channels: 3,
      background: '#ff0000',
    },
  })
    .png()
    .toBuffer();
  return sharp({ create: { width, height, channels: 3, background: '#2040c0' } }).composite([
    { input: corner, top: 0, left: 0 },
  ]);
}

/** A JPEG as a phone writes it: EXIF with the camera, an orientation tag and the GPS position. */
export async function phoneJpeg(opts: {
  width: number;
  height: number;
  orientation?: number;
}): Promise<Buffer> {
  const image = await pattern(opts.width, opts.height);
  return (
    image
      // sharp writes the orientation tag from withMetadata, not from an IFD0 entry.
      .withMetadata({ orientation: opts.orientation ?? 1 })
      .withExif({
        IFD0: { Make: 'Apple', Model: 'iPhone 15' },
        IFD3: {
          GPSLatitudeRef: 'N',
          GPSLatitude: '55/1 45/1 2100/100',
          GPSLongitudeRef: 'E',
          GPSLongitude: '37/1 37/1 1700/100',
        },
      })
      .jpeg({ quality: 80 })
      .toBuffer()
  );
}

export async function png(width: number, height: number): Promise<Buffer> {
  return (await pattern(width, height)).png().toBuffer();
}

export async function plainJpeg(width: number, height: number): Promise<Buffer> {
  return (await pattern(width, height)).jpeg({ quality: 80 }).toBuffer();
}

/** Noise compresses badly: a JPEG of a known size class (larger with more sigma and quality). */
export function noisyJpeg(
  width: number,
  height: number,
  opts: { sigma: number; quality: number },
): Promise<Buffer> {
  return sharp({
    create: {
      width,
      height,
      channels: 3,
      background: '#808080',
      noise: { type: 'gaussian', mean: 128, sigma: opts.sigma },
    },
  })
    .jpeg({ quality: opts.quality })
    .toBuffer();
}
