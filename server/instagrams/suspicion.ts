import { GraphError } from '../graph/errors.ts';
import type { StateReason } from '../db/columns.ts';

/** Meta's errors that make an account `suspected`: token, permission, restriction. */
export function suspicionOf(error: unknown): StateReason | null {
  if (!(error instanceof GraphError) || error.action !== 'permanent') return null;
  switch (error.errorCode) {
    case 'GRAPH_TOKEN_INVALID':
      return {
        code: 'GRAPH_TOKEN_INVALID',
        message: `Meta no longer accepts the token (${error.message}); connect the account again.`,
      };
    case 'GRAPH_PERMISSION_MISSING':
      return {
        code: 'GRAPH_PERMISSION_MISSING',
        message: `${error.userMessage} Connect the account again and grant every permission asked for.`,
      };
    case 'GRAPH_ACCOUNT_RESTRICTED':
      return {
        code: 'GRAPH_ACCOUNT_RESTRICTED',
        message: `${error.userMessage} Resolve it in the Instagram app.`,
      };
    default:
      return null;
  }
}
