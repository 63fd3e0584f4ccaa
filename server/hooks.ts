/**
 * Wires the domains' reactions to one another's changes, where neither may
 * import the other (docs/architecture.md, "Layers"). Called by the API
 * (createApp) and the worker (startWorker) before they take work.
 */
import { pauseChannels, planQueuedActions, resumeChannels } from './channels/queue.ts';
import { setAccountHooks } from './instagrams/hooks.ts';

export function installHooks(): void {
  setAccountHooks({
    started: resumeChannels,
    paused: pauseChannels,
    paceChanged: (tx, instagramId, now) => planQueuedActions(tx, instagramId, now, 'all'),
  });
}
