import { describe, expect, it } from 'vitest';
import { mergeEdit, type PostContent } from '../server/posts/merge.ts';

const current: PostContent = {
  instagram_id: null,
  user_id: '1784',
  content_type: 'Video',
  url: 'https://cdn.example.com/a.mp4',
  children: [],
  caption: 'Old caption',
  location_id: '110843418940484',
  thumb_offset: 1500,
  user_tags: [{ username: 'friend', x: null, y: null }],
  placement: 'feed',
  alt_text: null,
  collaborators: ['partner.brand'],
  cover_url: 'https://cdn.example.com/cover.jpg',
  share_to_feed: false,
  audio_name: 'Original audio',
  trial_reel: 'manual',
  first_comment: '#sunset #beach',
};

describe('merging an edit into a post', () => {
  it('PATCH keeps what the request leaves out and clears what it sets to null', () => {
    const { content, changed, datePubGiven } = mergeEdit(
      current,
      { id: 1, caption: null, url: 'https://cdn.example.com/b.mp4' },
      'patch',
    );
    expect(content).toEqual({ ...current, caption: null, url: 'https://cdn.example.com/b.mp4' });
    expect(changed).toEqual(['url', 'caption']);
    expect(datePubGiven).toBe(false);
  });

  it('PATCH keeps the same tags, untouched, when user_tags is not sent', () => {
    const { content } = mergeEdit(current, { id: 1, caption: 'New' }, 'patch');
    expect(content.user_tags).toBe(current.user_tags);
  });

  it('PUT clears every optional field the request leaves out and always sets date_pub', () => {
    const { content, changed, datePubGiven } = mergeEdit(
      current,
      { id: 1, user_id: '99', content_type: 'Photo', url: 'https://cdn.example.com/c.jpg', token: 'EAAG' },
      'replace',
    );
    expect(content).toEqual({
      instagram_id: null,
      user_id: '99',
      content_type: 'Photo',
      url: 'https://cdn.example.com/c.jpg',
      children: [],
      caption: null,
      location_id: null,
      thumb_offset: null,
      user_tags: [],
      placement: 'feed',
      alt_text: null,
      collaborators: [],
      cover_url: null,
      share_to_feed: null,
      audio_name: null,
      trial_reel: null,
      first_comment: null,
    });
    expect(changed).toEqual(['user_id', 'content_type', 'url', 'token']);
    expect(datePubGiven).toBe(true);
  });

  it('fills in missing tag coordinates as null', () => {
    const { content } = mergeEdit(current, { id: 1, user_tags: [{ username: 'a', x: 0.1 }] }, 'patch');
    expect(content.user_tags).toEqual([{ username: 'a', x: 0.1, y: null }]);
  });

  it('switches between a connected account and an own token, and refuses a user_id alone on an account post', () => {
    const toAccount = mergeEdit(current, { id: 1, instagram_id: 7 }, 'patch');
    expect(toAccount.content.instagram_id).toBe(7);
    expect(toAccount.issues).toEqual([]);

    const onAccount = { ...current, instagram_id: 7 };
    const toToken = mergeEdit(onAccount, { id: 1, user_id: '55', token: 'EAAnew' }, 'patch');
    expect(toToken.content).toMatchObject({ instagram_id: null, user_id: '55' });
    // Only the token: the post goes on to the same Instagram account with that token.
    expect(mergeEdit(onAccount, { id: 1, token: 'EAAnew' }, 'patch').content).toMatchObject({
      instagram_id: null,
      user_id: '1784',
    });
    expect(mergeEdit(onAccount, { id: 1, user_id: '55' }, 'patch').issues).toEqual([
      {
        path: 'user_id',
        message: 'the post names a connected account: send instagram_id, or user_id with token',
      },
    ]);
    // Other edits leave the account as it is.
    expect(mergeEdit(onAccount, { id: 1, caption: 'x' }, 'patch').content.instagram_id).toBe(7);
  });
});
