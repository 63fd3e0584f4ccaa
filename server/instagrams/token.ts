/**
 * The one place an account's sealed Graph token is opened, for every
 * domain that calls Meta on an account's behalf (publishing, channels, the
 * daily refresh, `start`). The sealed form travels with the token: a
 * suspicion raised on a failed call applies only while the account still
 * has that token (`suspectInstagram`'s `ifToken`), so a token replaced
 * meanwhile is never blamed for the old one's failure.
 */
import { eq } from 'drizzle-orm';
import type { TokenCipher } from '../crypto/token-cipher.ts';
import type { DbOrTx } from '../db/client.ts';
import { instagrams, type InstagramRow, type InstagramState, type LoginType } from '../db/schema.ts';
import type { GraphClient } from '../graph/graph-client.ts';
import type { MetaClient } from './meta.ts';

export interface AccountToken {
  /** The Graph token in the clear: never logged, never stored. */
  token: string;
  /** The Graph host of the account's login type. */
  graph: GraphClient;
  /** The sealed token it was opened from (what `suspectInstagram`'s `ifToken` compares). */
  tokenCiphertext: string;
}

/** Opens an account row's token and picks the Graph host of its login type. */
export function openAccountToken(
  deps: { meta: MetaClient; cipher: TokenCipher },
  row: Pick<InstagramRow, 'loginType' | 'tokenKeyId' | 'tokenCiphertext'>,
): AccountToken {
  return {
    token: deps.cipher.open({ keyId: row.tokenKeyId, ciphertext: row.tokenCiphertext }),
    graph: deps.meta.graph[row.loginType],
    tokenCiphertext: row.tokenCiphertext,
  };
}

export interface AccountCredentials extends AccountToken {
  id: number;
  state: InstagramState;
  loginType: LoginType;
}

/** An account's state and opened token as they are now; null when the account is gone. */
export async function readAccountToken(
  deps: { db: DbOrTx; meta: MetaClient; cipher: TokenCipher },
  instagramId: number,
): Promise<AccountCredentials | null> {
  const [row] = await deps.db
    .select({
      state: instagrams.state,
      loginType: instagrams.loginType,
      tokenKeyId: instagrams.tokenKeyId,
      tokenCiphertext: instagrams.tokenCiphertext,
    })
    .from(instagrams)
    .where(eq(instagrams.id, instagramId));
  if (!row) return null;
  return { id: instagramId, state: row.state, loginType: row.loginType, ...openAccountToken(deps, row) };
}
