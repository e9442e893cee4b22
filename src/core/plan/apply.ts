/** The effect of ops on observed state: a model of the portal + ledger, used by dry runs and property tests. */
import { compareText } from '../identity';
import type { ObservedAccount, ObservedDependent, Op } from './types';

/**
 * Applies ops in order and returns the new observed state (sorted by guardianKey; the input is not changed).
 * - create-account adds an `invited`, bridge-created account with no dependents (ignored when the key exists,
 *   as the portal would answer `email_in_use` / replay);
 * - update-account sets the given fields; `enable` makes a disabled account `active` (the conservative reading:
 *   it may have been activated before; the portal's own status corrects the ledger later);
 * - link sets the level, unlink removes, disable-account sets `disabled`;
 * - send-welcome records `trigger` and `covers` in welcomesSent.
 * Ops for an unknown guardianKey (other than create) are ignored.
 */
export function applyOps(observed: readonly ObservedAccount[], ops: readonly Op[]): ObservedAccount[] {
  const accounts = new Map(observed.map((o) => [o.guardianKey, o] as const));
  for (const op of ops) {
    const have = accounts.get(op.guardianKey);
    if (op.kind === 'create-account') {
      if (have === undefined) {
        accounts.set(op.guardianKey, {
          guardianKey: op.guardianKey,
          email: op.email,
          name: op.name,
          ...(op.cellPhone !== undefined ? { cellPhone: op.cellPhone } : {}),
          status: 'invited',
          createdBy: 'bridge',
          dependents: [],
          welcomesSent: [],
        });
      }
      continue;
    }
    if (have !== undefined) accounts.set(op.guardianKey, applyOne(have, op));
  }
  return [...accounts.values()].sort((a, b) => compareText(a.guardianKey, b.guardianKey));
}

function applyOne(have: ObservedAccount, op: Exclude<Op, { kind: 'create-account' }>): ObservedAccount {
  switch (op.kind) {
    case 'update-account':
      return {
        ...have,
        ...(op.email !== undefined ? { email: op.email } : {}),
        ...(op.name !== undefined ? { name: op.name } : {}),
        ...(op.cellPhone !== undefined ? { cellPhone: op.cellPhone } : {}),
        ...(op.enable === true && have.status === 'disabled' ? { status: 'active' as const } : {}),
      };
    case 'link':
      return { ...have, dependents: withDependent(have.dependents, { patientId: op.patientId, accessLevel: op.accessLevel }) };
    case 'unlink':
      return { ...have, dependents: have.dependents.filter((d) => d.patientId !== op.patientId) };
    case 'disable-account':
      return { ...have, status: 'disabled' };
    case 'send-welcome':
      return { ...have, welcomesSent: [...new Set([...have.welcomesSent, op.trigger, ...(op.covers ?? [])])] };
    default:
      return op satisfies never;
  }
}

function withDependent(dependents: readonly ObservedDependent[], next: ObservedDependent): ObservedDependent[] {
  return [...dependents.filter((d) => d.patientId !== next.patientId), next].sort((a, b) => compareText(a.patientId, b.patientId));
}
