/**
 * Synthetic families as HL7 ADT messages (default mapping: NK1 + ZNK), for pipeline tests and benchmarks.
 * Guardian g has contact id G<g>, email guardian<g>@example.org and `childrenPer` children P<g>-<n>.
 * Invented people only.
 */
export interface FamilyOptions {
  readonly guardians: number;
  readonly childrenPer?: number;
  /** MSH-7 of the first message (HL7 TS); each message is one second later. */
  readonly start?: string;
  /** Added to MSH-10 so that a second feed of the same families is not a retransmission. */
  readonly controlPrefix?: string;
}

export function familyMessages(options: FamilyOptions): string[] {
  const children = options.childrenPer ?? 2;
  const start = Date.parse(hl7ToIso(options.start ?? '20260110090000'));
  const out: string[] = [];
  let n = 0;
  for (let g = 1; g <= options.guardians; g++) {
    for (let c = 1; c <= children; c++) {
      const time = isoToHl7(new Date(start + n * 1000));
      const nk1 = Array.from({ length: 34 }, () => '');
      nk1[0] = 'NK1';
      nk1[1] = '1';
      nk1[2] = `Parent${g}^Pat`;
      nk1[3] = g % 2 === 0 ? 'FTH' : 'MTH';
      nk1[5] = `^NET^Internet^guardian${g}@example.org~^PRN^CP^^1^202^555${String(100 + (g % 100)).padStart(4, '0')}`;
      nk1[33] = `G${g}`;
      out.push(
        [
          `MSH|^~\\&|EHR|CLINIC|PORTAL|CLINIC|${time}||ADT^A04^ADT_A01|${options.controlPrefix ?? 'F'}${g}-${c}|P|2.5.1`,
          `PID|1||P${g}-${c}^^^CLINIC^MR||Child${c}^Kid${g}||2019060${1 + (c % 9)}|F`,
          nk1.join('|'),
          'ZNK|1|J|N|N|N',
        ].join('\r'),
      );
      n++;
    }
  }
  return out;
}

function hl7ToIso(ts: string): string {
  return `${ts.slice(0, 4)}-${ts.slice(4, 6)}-${ts.slice(6, 8)}T${ts.slice(8, 10)}:${ts.slice(10, 12)}:${ts.slice(12, 14)}Z`;
}

function isoToHl7(d: Date): string {
  return d.toISOString().replace(/[-:T]/g, '').slice(0, 14);
}
