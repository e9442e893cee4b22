/** Types of the reconcile plan (DESIGN §5): what the portal looks like, and the operations that change it. */
import type { AccessLevel, DesiredAccount } from '../eligibility/types';
import type { PersonName } from '../model';

export const ACCOUNT_STATUSES = ['invited', 'active', 'disabled'] as const;
/** Portal account status: `invited` until the first login, then `active`; `disabled` when it lost every dependent. */
export type AccountStatus = (typeof ACCOUNT_STATUSES)[number];

/** A dependent as linked on the portal. */
export interface ObservedDependent {
  readonly patientId: string;
  readonly accessLevel: AccessLevel;
}

/** One guardian's account as the ledger and the portal know it. */
export interface ObservedAccount {
  readonly guardianKey: string;
  readonly portalId?: string;
  readonly email: string;
  /** The name on the account; absent when the ledger does not know it (then the plan sets it). */
  readonly name?: PersonName;
  readonly cellPhone?: string;
  readonly status: AccountStatus;
  /** `staff`: created at the desk with a temporary password (R17): never emailed. */
  readonly createdBy: 'bridge' | 'staff';
  readonly dependents: readonly ObservedDependent[];
  /** Welcome triggers the ledger records as sent (`created`, `resend:<id>`, `email:<key>`, `authority:<id>`). */
  readonly welcomesSent: readonly string[];
}

/** One side effect on the portal. Each runs with an idempotency key (see idempotency.ts). */
export type Op =
  | { readonly kind: 'create-account'; readonly guardianKey: string; readonly email: string; readonly name: PersonName; readonly cellPhone?: string }
  | {
    readonly kind: 'update-account';
    readonly guardianKey: string;
    readonly email?: string;
    readonly name?: PersonName;
    readonly cellPhone?: string;
    /** Re-enable a disabled account that has dependents again. */
    readonly enable?: true;
  }
  | { readonly kind: 'link'; readonly guardianKey: string; readonly patientId: string; readonly accessLevel: AccessLevel }
  | { readonly kind: 'unlink'; readonly guardianKey: string; readonly patientId: string }
  | { readonly kind: 'disable-account'; readonly guardianKey: string }
  | {
    readonly kind: 'send-welcome';
    readonly guardianKey: string;
    readonly trigger: string;
    /** Other pending triggers this one welcome also answers; the ledger records them as sent too. Sorted. */
    readonly covers?: readonly string[];
  };

/** The kinds of Op, in the order the plan emits them for one guardian. */
export const OP_KINDS = ['create-account', 'update-account', 'link', 'unlink', 'disable-account', 'send-welcome'] as const;
export type OpKind = Op['kind'];

/** An extra welcome trigger: a staff resend (`resend:<request id>`) or an authority change (`authority:<inbox id>`). */
export interface WelcomeTrigger {
  readonly guardianKey: string;
  readonly trigger: string;
}

/** The input of plan(). guardianKeys are unique within `desired` and within `observed`. */
export interface PlanInput {
  readonly desired: readonly DesiredAccount[];
  readonly observed: readonly ObservedAccount[];
  readonly triggers?: readonly WelcomeTrigger[];
}

/** Something the plan will not do without a person (R19: login email of an activated account changed). */
export interface PlanHold {
  readonly guardianKey: string;
  readonly rule: 'R19';
  readonly reason: string;
}

/** The ops to run, in order, and what waits for staff. */
export interface Plan {
  readonly ops: readonly Op[];
  readonly holds: readonly PlanHold[];
}
