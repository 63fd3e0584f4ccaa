import { carousel } from './carousel.ts';
import type { ContainerParams, PostKind } from './kind.ts';
import { photo } from './photo.ts';
import { reel } from './reel.ts';
import { story } from './story.ts';

export const KINDS = { photo, reel, carousel, story } as const;

/**
 * The kind of a post, from what is stored: a Carousel is a carousel (a
 * carousel asked for as a story is refused by its rules), anything placed
 * as a story is a story, otherwise a video is a reel and a photo a photo.
 */
export function kindOf(
  contentType: 'Photo' | 'Video' | 'Carousel',
  placement?: 'feed' | 'story' | null,
): PostKind {
  if (contentType === 'Carousel') return carousel;
  if (placement === 'story') return story;
  return contentType === 'Video' ? reel : photo;
}

/** Meta's create-container parameters for a post of any kind. */
export function containerForm(params: ContainerParams): Record<string, string> {
  return kindOf(params.contentType, params.placement).containerForm(params);
}
