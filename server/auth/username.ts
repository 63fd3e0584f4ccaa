/**
 * One rule for usernames, used by the schema, the lookups and the unique
 * index alike. Sign-up stores the NFKC form as the display name (full-width
 * "ａｎｎ" becomes "ann"); the lookup key is that form lower-cased by
 * JavaScript, stored in its own column, so PostgreSQL's collation never
 * decides who is who (its lower() and JavaScript's differ on the Turkish İ).
 * Look-alikes from different scripts (Cyrillic "а" and Latin "a") are not
 * folded: they are different names.
 */

/** Control, format (zero-width, bidi), private-use, unassigned and separator characters other than the space. */
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Zl}\p{Zp}\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]/u;

export function normalizeUsername(username: string): string {
  return username.normalize('NFKC').trim();
}

/** The unique lookup key of a (normalised) username. */
export function usernameKey(username: string): string {
  return normalizeUsername(username).toLowerCase().normalize('NFKC');
}

/** Why a username cannot be used, or null. */
export function usernameProblem(username: string): string | null {
  if (INVISIBLE.test(username)) return 'username must not contain control or invisible characters';
  return null;
}
