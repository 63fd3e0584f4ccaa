import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../logger.ts';

/** What is stored for an encrypted secret: which key, and iv ‖ tag ‖ ciphertext in base64. */
interface Sealed {
  keyId: string;
  ciphertext: string;
}

/**
 * AES-256-GCM for Graph access tokens at rest. New values use the current
 * key; values sealed with an older key (ENCRYPTION_KEYS_OLD) still open, so
 * keys can rotate without a migration.
 */
export interface TokenCipher {
  seal(plaintext: string): Sealed;
  open(sealed: Sealed): string;
}

const IV_BYTES = 12;
const TAG_BYTES = 16;

/** Accepts 32 bytes as base64 (44 chars) or hex (64 chars); null otherwise. */
export function decodeKey(text: string): Buffer | null {
  const trimmed = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return Buffer.from(trimmed, 'hex');
  const buf = Buffer.from(trimmed, 'base64');
  return buf.length === 32 && /^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed) ? buf : null;
}

/** A short, stable, non-secret name for a key. */
export function keyId(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 12);
}

export function createTokenCipher(current: Buffer, older: Buffer[] = []): TokenCipher {
  const currentId = keyId(current);
  const keys = new Map<string, Buffer>([[currentId, current], ...older.map((k) => [keyId(k), k] as const)]);
  return {
    seal(plaintext) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', current, iv);
      const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return {
        keyId: currentId,
        ciphertext: Buffer.concat([iv, cipher.getAuthTag(), ct]).toString('base64'),
      };
    },
    open(sealed) {
      const key = keys.get(sealed.keyId);
      if (!key) throw new Error(`no encryption key with id ${sealed.keyId} is configured`);
      const raw = Buffer.from(sealed.ciphertext, 'base64');
      const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES));
      decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString(
        'utf8',
      );
    },
  };
}

/**
 * The cipher from ENCRYPTION_KEY, or in development from a key generated
 * once under DATA_DIR (with a warning: copying .data copies the key).
 */
export function tokenCipherFromEnv(
  // The fields of Env it reads, spelled out: env.ts validates keys with decodeKey from here.
  env: { ENCRYPTION_KEY?: string | undefined; ENCRYPTION_KEYS_OLD?: string | undefined; DATA_DIR: string },
  logger: Logger,
): TokenCipher {
  const older = (env.ENCRYPTION_KEYS_OLD ?? '')
    .split(',')
    .filter((k) => k.trim() !== '')
    .map((k) => decodeKey(k)!);
  if (env.ENCRYPTION_KEY) return createTokenCipher(decodeKey(env.ENCRYPTION_KEY)!, older);
  const file = path.join(env.DATA_DIR, 'encryption.key');
  if (!existsSync(file)) {
    mkdirSync(env.DATA_DIR, { recursive: true });
    writeFileSync(file, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
    logger.warn(
      { file },
      'ENCRYPTION_KEY is not set: generated a development key; set ENCRYPTION_KEY in production',
    );
  }
  return createTokenCipher(decodeKey(readFileSync(file, 'utf8'))!, older);
}
