import { describeEachDatabase } from '../helpers/db';
import { startPipeline, type Pipeline } from '../helpers/pipeline';

// Issue #3 (STYLE rule 8): known patient data goes through the whole pipeline — accepted, rejected, conflicting,
// held, retried under portal faults, an email change — and none of it is in any log line, at level debug.
jest.setTimeout(120_000);

/** One family contact (an NK1 row and its ZNK). Invented people only. */
interface Person {
  readonly given: string;
  readonly family: string;
  readonly rel: string;
  readonly email?: string;
  /** XTN repetition(s) of a cell phone, exactly as fed. */
  readonly phoneXtn?: string;
  /** The same phone as the feed writes it (each form is searched for). */
  readonly phoneForms?: readonly string[];
  readonly e164?: string;
  /** HL7 date (YYYYMMDD). */
  readonly birth?: string;
  readonly contactId?: string;
}

interface Child {
  readonly mrn: string;
  readonly given: string;
  readonly family: string;
  /** HL7 date (YYYYMMDD). */
  readonly birth: string;
  /** The patient's own telecom (PID-13), when any. */
  readonly telecom?: string;
}

let seq = 0;
function adt(time: string, child: Child, contacts: readonly Person[], event = 'ADT^A08^ADT_A01'): string {
  const segments = [
    `MSH|^~\\&|EHR|CLINIC|PORTAL|CLINIC|${time}||${event}|PHI${++seq}|P|2.5.1`,
    `PID|1||${child.mrn}^^^CLINIC^MR||${child.family}^${child.given}||${child.birth}|F|||||${child.telecom ?? ''}`,
  ];
  contacts.forEach((c, i) => {
    const nk1 = Array.from({ length: 34 }, () => '');
    nk1[0] = 'NK1';
    nk1[1] = String(i + 1);
    nk1[2] = `${c.family}^${c.given}`;
    nk1[3] = c.rel;
    nk1[5] = [c.email === undefined ? undefined : `^NET^Internet^${c.email}`, c.phoneXtn].filter((x) => x !== undefined).join('~');
    nk1[16] = c.birth ?? '';
    nk1[33] = c.contactId ?? '';
    segments.push(nk1.join('|'), `ZNK|${i + 1}|J|N|N|N`);
  });
  return segments.join('\r');
}

const philippa: Person = {
  given: 'Philippa', family: 'Quixote', rel: 'MTH', email: 'Philippa.Quixote@example.net',
  phoneXtn: '^PRN^CP^^1^617^5550123', phoneForms: ['5550123', '617 5550123', '+1 617 5550123'], e164: '+16175550123',
  birth: '19840923', contactId: 'CID-88412-PQ',
};
const zebulon: Child = { mrn: 'MRN-7731-XQ', given: 'Zebulon', family: 'Quixote', birth: '20170412', telecom: '^NET^Internet^zebulon.quixote@example.org~(617)555-0147^PRN^CP' };
const araminta: Child = { mrn: 'MRN-7732-XQ', given: 'Araminta', family: 'Quixote', birth: '20190228' };

// Two parents, one email: a conflict (R12).
const bartholomew: Person = {
  given: 'Bartholomew', family: 'Vandersloot', rel: 'FTH', email: 'shared.vandersloot@example.com',
  phoneXtn: '(312) 555-0199^PRN^CP', phoneForms: ['(312) 555-0199', '555-0199', '3125550199'], e164: '+13125550199', birth: '19790306',
};
const griselda: Person = { given: 'Griselda', family: 'Vandersloot', rel: 'MTH', email: 'shared.vandersloot@example.com', birth: '19810719' };
const octavia: Child = { mrn: 'MRN-5520-VB', given: 'Octavia', family: 'Vandersloot', birth: '20160511' };

// No email: held (R09).
const perpetua: Person = {
  given: 'Perpetua', family: 'Hollingsworth', rel: 'GRD', phoneXtn: '415.555.0172^PRN^CP', phoneForms: ['415.555.0172', '555.0172', '4155550172'],
  e164: '+14155550172', birth: '19700102', contactId: 'CID-60417-HP',
};
const ignatius: Child = { mrn: 'MRN-6604-HN', given: 'Ignatius', family: 'Hollingsworth', birth: '20150830' };

// Rejected by the mapping (an event it does not handle).
const cassiopeia: Person = { given: 'Cassiopeia', family: 'Rejectworth', rel: 'MTH', email: 'cassiopeia.rejectworth@example.org', contactId: 'CID-99013-RC', birth: '19880817' };
const leopold: Child = { mrn: 'MRN-9901-RJ', given: 'Leopold', family: 'Rejectworth', birth: '20180101' };

// Families reconciled while the portal fails half of its answers (5xx), rate-limits and drops answers after commit.
const FAULT_GIVEN = ['Thaddeus', 'Evangeline', 'Barnabas', 'Clementine', 'Percival', 'Wilhelmina'];
const FAULT_FAMILY = ['Marchbanks', 'Pettigrew', 'Kettleworth', 'Abernethy', 'Thistlewood', 'Quarrington'];
const CHILD_GIVEN = ['Peregrine', 'Hyacinth', 'Lysander', 'Marigold', 'Cornelius', 'Seraphina'];
const faultFamilies = FAULT_GIVEN.map((given, i) => {
  const family = FAULT_FAMILY[i]!;
  const local = `55501${60 + i}`;
  const parent: Person = {
    given, family, rel: i % 2 === 0 ? 'MTH' : 'FTH', email: `${given.toLowerCase()}.${family.toLowerCase()}@example.com`,
    phoneXtn: `^PRN^CP^^1^212^${local}`, phoneForms: [local, `212 ${local}`], e164: `+1212${local}`,
    birth: `1980${String(i + 1).padStart(2, '0')}15`, contactId: `CID-3${i}07-KT`,
  };
  const child: Child = { mrn: `MRN-44${i}0-FW`, given: CHILD_GIVEN[i]!, family, birth: `2018${String(i + 3).padStart(2, '0')}21` };
  return { parent, child };
});

// The email change (before first login: one resend to the new address).
const philippaNew: Person = { ...philippa, email: 'philippa.q.renamed@example.net' };

const iso = (hl7: string): string => `${hl7.slice(0, 4)}-${hl7.slice(4, 6)}-${hl7.slice(6, 8)}`;

/** Every value the log must never hold, lower-cased (the search ignores case). */
function knownPhi(messages: readonly string[]): string[] {
  const people: Person[] = [philippa, philippaNew, bartholomew, griselda, perpetua, cassiopeia, ...faultFamilies.map((f) => f.parent)];
  const children: Child[] = [zebulon, araminta, octavia, ignatius, leopold, ...faultFamilies.map((f) => f.child)];
  const values = new Set<string>();
  const add = (v: string | undefined): void => {
    if (v !== undefined && v !== '') values.add(v.toLowerCase());
  };
  for (const p of people) {
    [p.given, p.family, p.email, p.email?.split('@')[0], p.contactId, p.e164, p.e164?.slice(1), p.birth].forEach(add);
    if (p.birth !== undefined) add(iso(p.birth));
    p.phoneForms?.forEach(add);
  }
  for (const c of children) [c.mrn, c.given, c.family, c.birth, iso(c.birth)].forEach(add);
  ['zebulon.quixote@example.org', 'zebulon.quixote', '(617)555-0147', '555-0147', '6175550147', '+16175550147'].forEach(add);
  // The raw HL7, segment by segment (MSH carries no patient data but is raw input all the same).
  for (const m of messages) for (const segment of m.split('\r')) add(segment);
  return [...values];
}

describeEachDatabase('no PHI in logs', (db) => {
  let p: Pipeline | undefined;
  afterEach(async () => {
    await p?.close();
    p = undefined;
  });

  test('known patient data through the whole pipeline appears in no log line, at level debug', () =>
    db.withStore(async (store) => {
      const consoleLines: string[] = [];
      const spies = (['log', 'info', 'warn', 'error', 'debug'] as const).map((m) =>
        jest.spyOn(console, m).mockImplementation((...args: unknown[]) => {
          consoleLines.push(args.map(String).join(' '));
        }),
      );
      const fed: string[] = [];
      try {
        p = await startPipeline(store, { retry: { baseMs: 1_000, factor: 2, capMs: 60_000, maxAttempts: 60 } });
        expect(p.ingest.log.isLevelEnabled('debug')).toBe(true);
        const feed = async (messages: string[]): Promise<void> => {
          fed.push(...messages);
          await p!.feed(messages);
        };

        // Accepted (siblings under one parent, the patient's own telecom), a conflict, a hold, a rejection.
        await feed([
          adt('20260110090000', zebulon, [philippa]),
          adt('20260110090100', araminta, [philippa]),
          adt('20260110090200', octavia, [bartholomew, griselda]),
          adt('20260110090300', ignatius, [perpetua]),
          adt('20260110090400', leopold, [cassiopeia], 'ADT^Z99^ADT_A01'),
        ]);
        await p.drain();
        expect((await store.ledger.getAccount('c:CID-88412-PQ'))?.email).toBe('Philippa.Quixote@example.net');
        expect((await store.conflicts.listConflicts({ limit: 10 })).map((c) => c.emailKey)).toEqual(['shared.vandersloot@example.com']);
        expect((await store.audit.listAudit({ guardianKey: 'c:CID-60417-HP' })).map((a) => [a.rule, a.op])).toContainEqual(['R09', 'decide:hold']);
        expect((await store.inbox.listRejected({ limit: 10 })).map((r) => r.errorCode)).toEqual(['ERR_MAPPING_UNSUPPORTED_EVENT']);

        // Half the portal's answers fail (5xx), some are rate-limited or dropped after commit: retries are logged.
        await p.control.faults({ errorRate: 0.5, rateLimit: { every: 9, retryAfterSeconds: 1 }, dropAfterCommitRate: 0.1, seed: 7731 });
        await feed(faultFamilies.map((f, i) => adt(`2026011109${String(i).padStart(2, '0')}00`, f.child, [f.parent])));
        await p.drain(5_000);
        await p.control.faults(null);
        expect(await store.jobs.listFailed({ limit: 10 })).toEqual([]);

        // The email changes before the first login: the account follows, one welcome goes to the new address.
        await feed([adt('20260112100000', zebulon, [philippaNew]), adt('20260112100100', araminta, [philippaNew])]);
        await p.drain();
        expect((await store.ledger.getAccount('c:CID-88412-PQ'))?.email).toBe('philippa.q.renamed@example.net');
        const outbox = await p.control.outbox();
        expect(outbox.map((o) => o.email).sort()).toEqual(
          ['Philippa.Quixote@example.net', 'philippa.q.renamed@example.net', ...faultFamilies.map((f) => f.parent.email!)].sort(),
        );
      } finally {
        spies.forEach((s) => s.mockRestore());
      }

      // The log did record the run…
      const lines = p.logLines;
      for (const event of ['inbox row processed', 'inbox row rejected', 'guardian reconciled', 'job will be retried']) {
        expect(lines.filter((l) => l.includes(`"msg":"${event}"`)).length).toBeGreaterThan(0);
      }
      // …and none of the data.
      const phi = knownPhi(fed);
      expect(phi).toEqual(expect.arrayContaining(['mrn-7731-xq', 'zebulon', 'philippa.quixote', '+16175550123', '1984-09-23', '19840923']));
      const leaks = [...lines, ...consoleLines].flatMap((line) => {
        const lower = line.toLowerCase();
        return phi.filter((v) => lower.includes(v)).map((v) => ({ value: v, line }));
      });
      expect(leaks).toEqual([]);
      // No raw HL7 either, whatever the values.
      expect(lines.filter((l) => /\b(MSH|PID|NK1|ZNK)\|/.test(l))).toEqual([]);
    }));
});
