import { describe, expect, it } from 'vitest';
import { mediaUrlProblem, normalizeMediaUrl } from '../server/posts/rules.ts';
import { ZCreatePostInput } from '../server/posts/schemas.ts';
import { photo } from './helpers/post-fixtures.ts';

describe('the media URL check', () => {
  it.each([
    'https://[::ffff:127.0.0.1]/a.jpg',
    'https://[::ffff:7f00:1]/a.jpg',
    'https://[::127.0.0.1]/a.jpg',
    'https://[64:ff9b::a00:1]/a.jpg',
    'https://[2002:c0a8:101::1]/a.jpg',
    'https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/a.jpg',
    'https://[fe80::1]/a.jpg',
    'https://[fd00::1]/a.jpg',
    'https://[::1]/a.jpg',
    'https://[::]/a.jpg',
    'https://0x7f.1/a.jpg',
    'https://2130706433/a.jpg',
    'https://10.1.2.3/a.jpg',
    'https://100.64.0.1/a.jpg',
    'https://169.254.169.254/latest/meta-data',
    'https://192.168.1.1/a.jpg',
    'https://0.0.0.0/a.jpg',
    'https://224.0.0.1/a.jpg',
  ])('refuses %s, an address that is not public', (url) => {
    expect(mediaUrlProblem(url)).toMatch(/public address/);
  });

  it.each([
    ['https://./a.jpg', /host/],
    ['https://-bad-.example.com/a.jpg', /public host name/],
    ['https://cdn..example.com/a.jpg', /public host name/],
    ['https://example.123/a.jpg', /absolute URL/],
    ['https://cdn.example.com:0/a.jpg', /port 0/],
    ['https://intranet/a.jpg', /public host name/],
    ['https://printer.local/a.jpg', /local name/],
  ])('refuses %s, a junk or local host', (url, message) => {
    expect(mediaUrlProblem(url)).toMatch(message);
  });

  it('accepts public names and global addresses', () => {
    for (const url of [
      'https://cdn.example.com/a.jpg',
      'https://8.8.8.8/a.jpg',
      'https://[2606:4700::6810:85e5]/a.jpg',
      'https://xn--bcher-kva.example/a.jpg',
    ])
      expect(mediaUrlProblem(url), url).toBeNull();
  });

  it('stores the URL as the WHATWG parser reads it', () => {
    expect(normalizeMediaUrl('https://CDN.Example.com:443/a b.jpg')).toBe(
      'https://cdn.example.com/a%20b.jpg',
    );
    const parsed = ZCreatePostInput.parse(photo({ url: 'https://CDN.example.com/./x/../a.jpg' }));
    expect(parsed.url).toBe('https://cdn.example.com/a.jpg');
  });

  it('reports a bad URL as a field issue instead of throwing', () => {
    const result = ZCreatePostInput.safeParse(photo({ url: 'not a url' }));
    expect(result.success).toBe(false);
    expect(result.error!.issues.map((i) => i.message)).toEqual(['url must be an absolute URL']);
  });
});
