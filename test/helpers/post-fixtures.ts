/** Posts as the iOS app sends them, with the fields a test cares about overridden. */
export const IG_USER = '17841400008460056';
export const GRAPH_TOKEN = 'EAAGraphSecretToken1234567890abcdef';

export const photo = (over: Record<string, unknown> = {}) => ({
  user_id: IG_USER,
  content_type: 'Photo' as const,
  url: 'https://cdn.example.com/photos/a.jpg',
  caption: 'Sunset #beach @friend',
  user_tags: [{ username: 'friend.one', x: 0.5, y: 0.8 }],
  token: GRAPH_TOKEN,
  date_pub: new Date(Date.now() + 3600_000).toISOString(),
  ...over,
});

export const video = (over: Record<string, unknown> = {}) => ({
  user_id: IG_USER,
  content_type: 'Video' as const,
  url: 'https://cdn.example.com/videos/a.mp4',
  caption: 'Reel',
  thumb_offset: 1500,
  token: GRAPH_TOKEN,
  date_pub: new Date(Date.now() + 7200_000).toISOString(),
  ...over,
});
