import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createTokenCipher, decodeKey, keyId } from '../server/crypto/token-cipher.ts';

describe('the token cipher', () => {
  it('opens what it sealed, with a fresh IV each time', () => {
    const cipher = createTokenCipher(randomBytes(32));
    const a = cipher.seal('EAAG-secret');
    const b = cipher.seal('EAAG-secret');
    expect(a.ciphertext).not.toBe(b.ciphertext);
    expect(a.ciphertext).not.toContain('EAAG');
    expect(cipher.open(a)).toBe('EAAG-secret');
  });

  it('detects tampering', () => {
    const cipher = createTokenCipher(randomBytes(32));
    const sealed = cipher.seal('EAAG-secret');
    const raw = Buffer.from(sealed.ciphertext, 'base64');
    raw[raw.length - 1]! ^= 1;
    expect(() => cipher.open({ ...sealed, ciphertext: raw.toString('base64') })).toThrow();
  });

  it('rotates: a new key seals, the old one still opens old values', () => {
    const oldKey = randomBytes(32);
    const newKey = randomBytes(32);
    const before = createTokenCipher(oldKey).seal('old token');
    const rotated = createTokenCipher(newKey, [oldKey]);
    expect(rotated.open(before)).toBe('old token');
    expect(rotated.seal('new').keyId).toBe(keyId(newKey));
    expect(() => createTokenCipher(newKey).open(before)).toThrow(/no encryption key with id/);
  });

  it('accepts 32-byte keys as base64 or hex only', () => {
    const key = randomBytes(32);
    expect(decodeKey(key.toString('base64'))).toEqual(key);
    expect(decodeKey(key.toString('hex'))).toEqual(key);
    expect(decodeKey('too short')).toBeNull();
    expect(decodeKey(randomBytes(16).toString('base64'))).toBeNull();
  });
});
