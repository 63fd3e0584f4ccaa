/**
 * What other domains do, in the same transaction, when an account's state
 * changes. Channels pause when the account stops or is suspected, resume when
 * it starts or gets a new token, and re-plan their queue when its pace
 * changes. They register here (server/hooks.ts, called by the API and the
 * worker when they start) so that this module, which channels read, never
 * imports channels.
 */
import type { Tx } from '../db/client.ts';

export interface AccountHooks {
  /** The account started, or was reconnected with a new token. */
  started(tx: Tx, instagramId: number, now: Date): Promise<unknown>;
  /** The account stopped or was suspected. */
  paused(tx: Tx, instagramId: number): Promise<unknown>;
  /** Its speed, hours or time zone changed. */
  paceChanged(tx: Tx, instagramId: number, now: Date): Promise<unknown>;
}

let installed: AccountHooks | null = null;

/** Set once per process, before the first request or job; a second call replaces the first. */
export function setAccountHooks(hooks: AccountHooks): void {
  installed = hooks;
}

/**
 * The hooks in force. Missing hooks are a wiring mistake, not a state to
 * carry on in: an account stopped without pausing its channels would go on
 * answering comments.
 */
export function accountHooks(): AccountHooks {
  if (!installed)
    throw new Error('account hooks are not set: call installHooks() (server/hooks.ts) at start');
  return installed;
}
