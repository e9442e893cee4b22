import fc from 'fast-check';
import { decide, type DesiredAccount } from './eligibility';
import { AUTHORITIES, RELATIONSHIPS, type Contact, type Patient, type PersonName, type Snapshot } from './model';
import { applyOps, plan, type ObservedAccount } from './plan';
import { ADOLESCENT_POLICIES, DEFAULT_POLICY, type Policy } from './policy';

const RUNS = { numRuns: 200 };
const AS_OF = '2024-06-15';

// Small pools so that collisions (shared emails, namesakes, shared contactIds) happen often.
const names: PersonName[] = [{ given: 'Ada', family: 'Testperson' }, { given: 'ADA', family: 'test-person' }, { given: 'Bo', family: 'Testperson' }, { given: 'Kit', family: 'Testchild' }];
const emails = ['ada@example.org', 'ADA@example.org ', 'bo@example.com', 'kit@example.com', 'bad@address', ''];
const birthDates = ['1985-01-01', '1960-07-07', '2008-02-29', '2010-05-05', '2016-03-10', '2006-06-15', '2006-06', '1990'];
const versions = ['2024-01-01T00:00:00Z', '2024-01-01T05:00:00+05:00', '2024-02-01T00:00:00Z'];

const rarely = fc.nat(7).map((n) => n === 0);
const optional = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(arb, { nil: undefined });

const patientArb = (id: string, ids: readonly string[]): fc.Arbitrary<Patient> => fc.record({
  id: fc.constant(id),
  name: fc.constantFrom(...names),
  birthDate: optional(fc.constantFrom(...birthDates)),
  deceased: fc.boolean().map((b) => b && id.endsWith('1')),
  active: fc.constantFrom(true, true, true, false),
  mergedInto: fc.constantFrom(undefined, undefined, undefined, 'P9', ...ids.filter((other) => other !== id)),
  email: optional(fc.constantFrom(...emails)),
  cellPhone: optional(fc.constantFrom('+12025550123', '+12025550199')),
  sourceVersion: fc.constantFrom(...versions),
}, { requiredKeys: ['id', 'name', 'deceased', 'active', 'sourceVersion'] });

const contactArb = (patientId: string): fc.Arbitrary<Contact> => fc.record({
  patientId: fc.constant(patientId),
  contactId: optional(fc.constantFrom('c1', 'c2', 'c3')),
  name: fc.constantFrom(...names),
  relationship: fc.constantFrom(...RELATIONSHIPS.filter((r) => ['mother', 'father', 'guardian', 'self', 'other-relative'].includes(r))),
  authority: fc.constantFrom(...AUTHORITIES, 'joint', 'joint'),
  email: optional(fc.constantFrom(...emails)),
  cellPhone: optional(fc.constantFrom('+12025550123', '+12025550199')),
  birthDate: optional(fc.constantFrom(...birthDates)),
  flags: fc.record({ noAccess: rarely, declined: rarely, staffCreated: fc.boolean(), limitedAccess: rarely }),
  sourceVersion: fc.constantFrom(...versions),
}, { requiredKeys: ['patientId', 'name', 'relationship', 'authority', 'flags', 'sourceVersion'] });

const snapshotArb: fc.Arbitrary<{ patients: Patient[]; contacts: Contact[][] }> = fc
  .uniqueArray(fc.constantFrom('P1', 'P2', 'P3', 'P4', 'P5', 'P6'), { minLength: 1, maxLength: 6 })
  .chain((ids) => fc.record({
    patients: fc.tuple(...ids.map((id) => patientArb(id, ids))),
    contacts: fc.tuple(...ids.map((id) => fc.array(contactArb(id), { maxLength: 4 }))),
  }));

const policyArb: fc.Arbitrary<Policy> = fc.record({
  passwordless: fc.boolean(),
  eligibleAuthorities: fc.constantFrom<Policy['eligibleAuthorities']>(['joint', 'exclusive'], ['exclusive'], ['joint', 'exclusive', 'unknown']),
  adolescent: fc.record({ enabled: fc.boolean(), fromAge: fc.constantFrom(12, 13), policy: fc.constantFrom(...ADOLESCENT_POLICIES) }),
}).map((over) => ({ ...DEFAULT_POLICY, ...over }));

function toSnapshot(patients: readonly Patient[], contacts: readonly (readonly Contact[])[]): Snapshot {
  return {
    patients: new Map(patients.map((p) => [p.id, p])),
    contacts: new Map(patients.map((p, i) => [p.id, contacts[i] ?? []])),
    appointments: new Map(),
  };
}

/** A permutation of `items` driven by generated sort keys. */
function permute<T>(items: readonly T[], keys: readonly number[]): T[] {
  return items.map((item, i) => ({ item, k: keys[i % Math.max(keys.length, 1)] ?? 0, i }))
    .sort((a, b) => a.k - b.k || b.i - a.i).map((x) => x.item);
}

describe('decide: properties', () => {
  it('does not depend on the order of contacts nor on patient insertion order', () => {
    fc.assert(fc.property(snapshotArb, policyArb, fc.array(fc.nat(9), { minLength: 1, maxLength: 12 }), ({ patients, contacts }, policy, keys) => {
      const order = permute(patients.map((_, i) => i), keys);
      const shuffled = toSnapshot(order.map((i) => patients[i]!), order.map((i) => permute(contacts[i] ?? [], [...keys].reverse())));
      expect(decide(shuffled, policy, AS_OF)).toEqual(decide(toSnapshot(patients, contacts), policy, AS_OF));
    }), RUNS);
  });

  it('decides every row once, and gives each guardian at most one account', () => {
    fc.assert(fc.property(snapshotArb, policyArb, ({ patients, contacts }, policy) => {
      const result = decide(toSnapshot(patients, contacts), policy, AS_OF);
      for (const row of contacts.flat()) expect(result.decisions.filter((d) => d.contact === row)).toHaveLength(1);
      const keys = result.accounts.map((a) => a.guardianKey);
      expect(new Set(keys).size).toBe(keys.length);
      for (const account of result.accounts) {
        for (const dep of account.dependents) {
          expect(result.decisions.some((d) => d.guardianKey === account.guardianKey && d.patientId === dep.patientId && (d.outcome === 'provision' || d.outcome === 'link-limited'))).toBe(true);
        }
      }
    }), RUNS);
  });
});

const keyPool = ['g1', 'g2', 'g3', 'g4'];
const patientPool = ['P1', 'P2', 'P3', 'P4'];
const triggerPool = ['created', 'resend:1', 'authority:2', 'email:ada@example.org'];
const level = fc.constantFrom('full' as const, 'limited' as const);
const depsArb = fc.uniqueArray(fc.record({ patientId: fc.constantFrom(...patientPool), accessLevel: level }), { selector: (d) => d.patientId, maxLength: 3 });

const desiredArb: fc.Arbitrary<DesiredAccount[]> = fc.uniqueArray(fc.record({
  guardianKey: fc.constantFrom(...keyPool),
  email: fc.constantFrom('ada@example.org', 'ADA@example.org', 'bo@example.com'),
  name: fc.constantFrom(...names),
  cellPhone: optional(fc.constantFrom('+12025550123', '+12025550199')),
  dependents: depsArb,
  retain: fc.subarray(patientPool),
  welcome: fc.boolean(),
}, { requiredKeys: ['guardianKey', 'email', 'name', 'dependents', 'retain', 'welcome'] }), { selector: (d) => d.guardianKey })
  .map((list) => list.map((d) => ({ ...d, retain: d.retain.filter((p) => !d.dependents.some((x) => x.patientId === p)) })));

const observedArb: fc.Arbitrary<ObservedAccount[]> = fc.uniqueArray(fc.record({
  guardianKey: fc.constantFrom(...keyPool),
  email: fc.constantFrom('ada@example.org', 'bo@example.com', 'old@example.net'),
  name: optional(fc.constantFrom(...names)),
  cellPhone: optional(fc.constantFrom('+12025550123')),
  status: fc.constantFrom('invited' as const, 'active' as const, 'disabled' as const),
  createdBy: fc.constantFrom('bridge' as const, 'staff' as const),
  dependents: depsArb,
  welcomesSent: fc.subarray(triggerPool),
}, { requiredKeys: ['guardianKey', 'email', 'status', 'createdBy', 'dependents', 'welcomesSent'] }), { selector: (o) => o.guardianKey });

const triggersArb = fc.array(fc.record({ guardianKey: fc.constantFrom(...keyPool), trigger: fc.constantFrom(...triggerPool) }), { maxLength: 4 });

/** The observed state that matches `desired` exactly (with the freedom a converged state has). */
const convergedArb = desiredArb.chain((desired) => fc.tuple(fc.constant(desired), fc.tuple(...desired.map((d) => fc.record({
  status: fc.constantFrom('invited' as const, 'active' as const),
  createdBy: fc.constantFrom('bridge' as const, 'staff' as const),
  keptRetained: fc.subarray([...d.retain]),
  extra: fc.subarray(triggerPool),
  disabled: fc.boolean(),
})))));

describe('plan: properties', () => {
  it('plans nothing for a converged state', () => {
    fc.assert(fc.property(convergedArb, ([desired, shapes]) => {
      const observed: ObservedAccount[] = desired.flatMap((d, i): ObservedAccount[] => {
        const s = shapes[i]!;
        if (d.dependents.length === 0) {
          if (s.keptRetained.length === 0 && !s.disabled) return [];
          const links = s.keptRetained.map((patientId) => ({ patientId, accessLevel: 'full' as const }));
          return [{ guardianKey: d.guardianKey, email: 'other@example.net', status: links.length === 0 ? 'disabled' : s.status, createdBy: s.createdBy, dependents: links, welcomesSent: [] }];
        }
        const welcomed = s.status === 'invited' && s.createdBy === 'bridge' && d.welcome;
        return [{
          guardianKey: d.guardianKey, email: d.email.toUpperCase(), name: d.name, ...(d.cellPhone !== undefined ? { cellPhone: d.cellPhone } : {}),
          status: s.status, createdBy: s.createdBy,
          dependents: [...d.dependents, ...s.keptRetained.map((patientId) => ({ patientId, accessLevel: 'limited' as const }))],
          welcomesSent: welcomed ? [...new Set(['created', ...s.extra])] : s.extra,
        }];
      });
      const triggers = observed.flatMap((o) => o.welcomesSent.map((trigger) => ({ guardianKey: o.guardianKey, trigger })));
      const gone: ObservedAccount = { guardianKey: 'g9', email: 'gone@example.org', status: 'disabled', createdBy: 'bridge', dependents: [], welcomesSent: [] };
      expect(plan({ desired, observed: [...observed, gone], triggers })).toEqual({ ops: [], holds: [] });
    }), RUNS);
  });

  it('after applying a plan, planning again gives no ops (and the same holds)', () => {
    fc.assert(fc.property(desiredArb, observedArb, triggersArb, (desired, observed, triggers) => {
      const first = plan({ desired, observed, triggers });
      const second = plan({ desired, observed: applyOps(observed, first.ops), triggers });
      expect(second.ops).toEqual([]);
      expect(second.holds.map((h) => h.guardianKey)).toEqual(first.holds.map((h) => h.guardianKey));
      const welcomes = first.ops.filter((o) => o.kind === 'send-welcome');
      expect(new Set(welcomes.map((o) => o.guardianKey)).size).toBe(welcomes.length);
    }), RUNS);
  });
});
