/**
 * Database failures that are worth retrying become BridgeError ERR_STORE_UNAVAILABLE (transient); everything else
 * (a bug, a constraint we did not expect) is passed through unchanged. The message names only the driver's code:
 * driver messages can quote row values.
 */
import { BridgeError } from '../errors';

const PG_TRANSIENT_STATES = new Set(['40001', '40P01', '55P03', '57P01', '57P02', '57P03']);
const PG_TRANSIENT_CLASSES = ['08', '53'];
const NODE_TRANSIENT_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);
const SQLITE_TRANSIENT_PREFIXES = ['SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_IOERR', 'SQLITE_FULL', 'SQLITE_CANTOPEN'];

/** The driver-level reason `e` is a retryable database failure, or undefined when it is not one. */
export function storeUnavailableReason(e: unknown): string | undefined {
  // Duck-typed: errors from Node's core can come from another realm (jest's VM), where instanceof Error fails.
  if (typeof e !== 'object' || e === null) return undefined;
  const { code, name, message, errors } = e as { code?: unknown; name?: unknown; message?: unknown; errors?: unknown };
  if (typeof code === 'string') {
    if (PG_TRANSIENT_STATES.has(code) || (/^[0-9A-Z]{5}$/u.test(code) && PG_TRANSIENT_CLASSES.includes(code.slice(0, 2)))) return code;
    if (NODE_TRANSIENT_CODES.has(code)) return code;
    if (SQLITE_TRANSIENT_PREFIXES.some((p) => code.startsWith(p))) return code;
  }
  if (name === 'KnexTimeoutError') return 'pool timeout';
  if (typeof message === 'string' && /^Connection terminated/u.test(message)) return 'connection terminated';
  // Node's happy-eyeballs connect reports every address tried in an AggregateError.
  if (Array.isArray(errors)) return errors.map(storeUnavailableReason).find((r) => r !== undefined);
  return undefined;
}

/** `e` as ERR_STORE_UNAVAILABLE when it is a retryable database failure, else `e` itself. */
export function toStoreError(e: unknown): unknown {
  if (e instanceof BridgeError) return e;
  const reason = storeUnavailableReason(e);
  return reason === undefined ? e : new BridgeError('ERR_STORE_UNAVAILABLE', `database unavailable (${reason})`, { cause: e });
}
