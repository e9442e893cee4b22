import fc from 'fast-check';
import { explain, toJson } from '../src/explain/report';
import { bundledMapping } from './helpers/mappings';

// Issue #2: decisions do not depend on the order of independent messages. Each message here is about its own
// patient (independent); guardians are drawn from a small pool so that the same parent, shared emails and
// namesakes appear across charts. The messages go through the real path: split → parse → map → snapshot → decide.
const mapping = bundledMapping('hl7v2');
const parents = [
  { family: 'Testperson', given: 'Ada', email: 'ada@example.org', id: 'C1' },
  { family: 'Testperson', given: 'Bo', email: 'bo@example.org', id: 'C2' },
  { family: 'Testperson', given: 'Bo', email: 'ada@example.org', id: '' },
  { family: 'Sample', given: 'Cy', email: '', id: 'C3' },
  { family: 'Sample', given: 'Dee', email: 'dee@example', id: '' },
];
const roles = ['MTH', 'FTH', 'GRD', 'SEL', 'OTH'];
const authorities = ['J', 'E', 'N', ''];

const contactArb = fc.record({ parent: fc.nat(parents.length - 1), role: fc.constantFrom(...roles), authority: fc.constantFrom(...authorities), staff: fc.boolean() });
const messageArb = (i: number) =>
  fc.record({
    birthYear: fc.constantFrom(2005, 2012, 2019),
    minute: fc.nat(59),
    contacts: fc.array(contactArb, { maxLength: 3 }),
  }).map(({ birthYear, minute, contacts }) => {
    const segments = [
      `MSH|^~\\&|EHR|CLINIC|PORTAL|CLINIC|202601${String(10 + i).padStart(2, '0')}09${String(minute).padStart(2, '0')}00||ADT^A08^ADT_A01|M${i}|P|2.5.1`,
      `PID|1||P${i}^^^CLINIC^MR||Child${i}^Kid||${birthYear}0601`,
    ];
    contacts.forEach((c, n) => {
      const p = parents[c.parent]!;
      const nk1 = Array.from({ length: 34 }, () => '');
      nk1[0] = 'NK1';
      nk1[1] = String(n + 1);
      nk1[2] = `${p.family}^${p.given}`;
      nk1[3] = c.role;
      nk1[5] = p.email === '' ? '' : `^NET^Internet^${p.email}`;
      nk1[33] = p.id;
      segments.push(nk1.join('|'));
      segments.push(`ZNK|${n + 1}|${c.authority}|N|N|${c.staff ? 'Y' : 'N'}`);
    });
    return segments.join('\r');
  });

const messagesArb = fc.integer({ min: 1, max: 5 }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => messageArb(i))));

test('decisions, accounts and conflicts do not depend on the order independent messages arrive in', () => {
  fc.assert(
    fc.property(messagesArb.chain((msgs) => fc.tuple(fc.constant(msgs), fc.shuffledSubarray(msgs, { minLength: msgs.length, maxLength: msgs.length }))), ([ordered, shuffled]) => {
      const run = (msgs: readonly string[]) => {
        const json = toJson(explain(msgs.map((text, i) => ({ file: `m${i}.hl7`, text })), mapping, '2026-11-23'));
        expect(json.inputs.every((x) => x.status === 'accepted')).toBe(true);
        return { decisions: json.decisions, accounts: json.accounts, conflicts: json.conflicts };
      };
      expect(run(shuffled)).toEqual(run(ordered));
    }),
    { numRuns: 150 },
  );
});

test('the generated messages carry what the property relies on (sanity check of the generator)', () => {
  const sample = fc.sample(messageArb(0), { numRuns: 50, seed: 7 }).find((m) => m.includes('NK1|1|'));
  expect(sample).toBeDefined();
  const json = toJson(explain([{ file: 'm.hl7', text: sample! }], mapping, '2026-11-23'));
  expect(json.inputs[0]?.status).toBe('accepted');
  expect(json.decisions.length).toBeGreaterThan(0);
  // Contact ids (NK1-33) and emails (NK1-5) reach the model.
  const all = fc.sample(messagesArb, { numRuns: 100, seed: 3 }).flatMap((msgs) => toJson(explain(msgs.map((text, i) => ({ file: `m${i}.hl7`, text })), mapping, '2026-11-23')).decisions);
  expect(all.some((d) => d.guardianKey === 'c:C1')).toBe(true);
  expect(all.some((d) => d.contact.email === 'ada@example.org')).toBe(true);
  expect(new Set(all.map((d) => d.outcome)).size).toBeGreaterThanOrEqual(4);
});
