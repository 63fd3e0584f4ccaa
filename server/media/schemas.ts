import { z } from 'zod';
import { pageInput, pageOf } from '../lib/page.ts';

const ZInstant = z.iso.datetime();

export const ZMediaIdInput = z
  .object({
    id: z
      .string()
      .regex(/^[A-Za-z0-9_-]{24}$/, 'id must be an upload id')
      .meta({ description: 'The upload id (the file name in its URL, without the extension).' }),
  })
  .strict();

export const ZListMediaInput = z
  .object({
    ...pageInput(128),
  })
  .strict();
export type ListMediaInput = z.infer<typeof ZListMediaInput>;

export const ZMedia = z
  .object({
    id: z.string(),
    url: z.string().meta({
      description:
        'Where Meta (and anyone with the link) fetches the file; put it in a post’s `url`, `cover_url` or a carousel child.',
      example: 'https://api.example.com/m/q7nYbLx1c2Vd3WeF4gHi5JkL.jpg',
    }),
    content_type: z.string().meta({ description: '`image/jpeg`, `video/mp4` or `video/quicktime`.' }),
    width: z
      .number()
      .int()
      .nullable()
      .meta({ description: 'Pixels, after conversion (images) or as displayed (videos).' }),
    height: z.number().int().nullable(),
    size: z.number().int().meta({ description: 'Bytes stored (after conversion for images).' }),
    duration_ms: z.number().int().nullable().meta({ description: 'Videos only.' }),
    created_at: ZInstant,
    expires_at: ZInstant.meta({
      description:
        'When the file is removed if no post uses it; a file used by published posts stays MEDIA_RETENTION after the last was published.',
    }),
  })
  .meta({ id: 'Media' });
export type MediaOutput = z.infer<typeof ZMedia>;

export const ZMediaList = pageOf(ZMedia, 'MediaList');

export const ZDeletedMedia = z
  .object({ id: z.string(), deleted: z.literal(true) })
  .meta({ id: 'DeletedMedia' });
