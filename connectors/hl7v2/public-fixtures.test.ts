import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseHl7, splitHl7, type ParsedHl7 } from '../../src/core/hl7/message';
import type { MappedInput } from '../../src/core/mapping/mapped-input';
import type { Mapping } from '../../src/core/mapping/types';
import type { SnapshotOp } from '../../src/core/model';
import { BridgeError, ERROR_CATALOG } from '../../src/errors';
import { publicFixtures } from '../../test/helpers/fixtures';
import { bundledMappingText, mappingFromText } from '../../test/helpers/mappings';
import { hl7ToSnapshot } from './to-snapshot';

/**
 * Every public HL7 v2 sample (../shared/fixtures/public/hl7, see SOURCES.md) through split → parse →
 * hl7ToSnapshot with the default mapping: each message is either mapped or rejected with a one-line BridgeError.
 * The folder lives outside the repository: the suite is skipped when it is absent, unless REQUIRE_FIXTURES=1.
 */
const fixtures = publicFixtures('hl7');
const DIR = fixtures?.dir ?? '';
const present = fixtures !== undefined;

const DEFAULT_YAML = bundledMappingText('hl7v2');
const mappingFrom = (yaml: string): Mapping => mappingFromText(yaml, 'hl7v2-default.yaml');

type Outcome = { file: string; index: number; parsed?: ParsedHl7; mapped?: MappedInput; error?: BridgeError };

function run(file: string, mapping: Mapping): Outcome[] {
  return splitHl7(readFileSync(path.join(DIR, file), 'utf8')).map((raw) => {
    if (raw.problem !== undefined) return { file, index: raw.index, error: new BridgeError('ERR_HL7_UNPARSEABLE', raw.problem) };
    let parsed: ParsedHl7 | undefined;
    try {
      parsed = parseHl7(raw.text);
      return { file, index: raw.index, parsed, mapped: hl7ToSnapshot(parsed, mapping) };
    } catch (e) {
      if (e instanceof BridgeError) return { file, index: raw.index, ...(parsed && { parsed }), error: e };
      throw e; // a TypeError or anything else fails the sweep
    }
  });
}

const kinds = (ops: readonly SnapshotOp[] | undefined): string[] => (ops ?? []).map((o) => o.kind);

(present ? describe : describe.skip)('public HL7 v2 fixtures', () => {
  const mapping = present ? mappingFrom(DEFAULT_YAML) : (undefined as unknown as Mapping);
  const files = present ? readdirSync(DIR).filter((f) => f.endsWith('.hl7')).sort() : [];
  const byFile = (file: string, m: Mapping = mapping): Outcome[] => {
    expect(files).toContain(file);
    return run(file, m);
  };

  test('the folder holds the samples SOURCES.md lists', () => {
    expect(files.length).toBeGreaterThanOrEqual(40);
  });

  test.each(files)('%s: every message is mapped or rejected with a one-line BridgeError', (file) => {
    const outcomes = run(file, mapping);
    expect(outcomes.length).toBeGreaterThan(0);
    for (const o of outcomes) {
      if (o.error !== undefined) {
        expect(Object.keys(ERROR_CATALOG)).toContain(o.error.code);
        expect(o.error.message).not.toMatch(/[\r\n]/);
        expect(o.error.message).not.toMatch(/\bat .*\.ts:\d+/);
        expect(o.error.message.length).toBeGreaterThan(0);
        expect(o.error.message.length).toBeLessThan(200);
      } else {
        expect(o.mapped).toBeDefined();
        for (const w of o.mapped!.warnings) expect(w).not.toMatch(/[\r\n]/);
      }
    }
  });

  test('newborn with father and mother NK1: rejected by the default mapping (no CX-5), two contacts with the PID-3.1 fallback', () => {
    const file = 'cdc_ti__ADT_A01_v2.3__newborn_father_mother_nk1.hl7';
    const [strict] = byFile(file);
    expect(strict?.error?.code).toBe('ERR_MAPPING_MISSING_FIELD');
    const fallback = mappingFrom(DEFAULT_YAML.replace("  id: 'PID-3[5=MR].1'\n", "  id: ['PID-3[5=MR].1', 'PID-3.1']\n"));
    const [o] = byFile(file, fallback);
    expect(kinds(o?.mapped?.ops)).toEqual(['upsert-patient', 'upsert-contacts']);
    const op = o?.mapped?.ops[1];
    expect(op?.kind === 'upsert-contacts' && op.contacts.map((c) => [c.name.given, c.name.family, c.relationship, c.relationshipCode])).toEqual([
      ['SAMUAL', 'SMITH', 'father', 'FTH'],
      ['SADIE', 'SMITH', 'mother', 'MTH'],
    ]);
  });

  test('NK1 before PID (ORM^O01, set ids 2,1): the rows belong to the patient', () => {
    const file = 'cdc_ti__ORM_O01_v2.5.1__nk1_before_pid.hl7';
    expect(byFile(file)[0]?.error?.code).toBe('ERR_MAPPING_UNSUPPORTED_EVENT');
    const orders = mappingFrom(DEFAULT_YAML.replace('  ADT^A01: upsert', '  ORM^O01: upsert\n  ADT^A01: upsert'));
    const [o] = byFile(file, orders);
    const op = o?.mapped?.ops[1];
    expect(op?.kind === 'upsert-contacts' && [op.patientId, op.contacts.map((c) => c.relationship)]).toEqual(['11102779', ['mother', 'father']]);
  });

  test('A40 with two pairs gives two merges', () => {
    const [o] = byFile('fhirconverter__ADT_A40_v2.8__merge_two_pairs.hl7');
    expect(o?.mapped?.ops).toEqual([
      { kind: 'merge-patient', survivorId: '12345', mergedId: '56789', sourceVersion: '2019-04-23T12:46:37Z' },
      { kind: 'merge-patient', survivorId: '145', mergedId: '569', sourceVersion: '2019-04-23T12:46:37Z' },
    ]);
  });

  test('batches: BHS/BTS with two messages; FHS/BHS without trailers with one', () => {
    const vinah = byFile('pythonhl7__BHS_ADT_A04_v2.5__vinah_batch_two_messages.hl7');
    expect(vinah.map((o) => [o.index, o.parsed?.messageType, o.parsed?.segments[0]?.name])).toEqual([
      [0, 'ADT^A04', 'MSH'],
      [1, 'ADT^A04', 'MSH'],
    ]);
    const cdc = byFile('cdc_ti__ORU_R01_v2.5.1__batch_fhs_bhs_pid13_email.hl7');
    expect(cdc.map((o) => o.parsed?.messageType)).toEqual(['ORU^R01']);
    expect(cdc[0]?.parsed?.segments.some((s) => s.name === 'FHS' || s.name === 'BHS')).toBe(false);
  });

  test('field separator ^ (MSH^~|\\&) parses: ADT^A24 with two PIDs, then the default mapping rejects the event', () => {
    const [o] = byFile('hapi__ADT_A24_v2.4__caret_field_separator.hl7');
    expect(o?.parsed?.messageType).toBe('ADT^A24');
    expect(o?.parsed?.delimiters.field).toBe('^');
    expect(o?.parsed?.segments.filter((s) => s.name === 'PID').map((s) => s.value(3))).toEqual(['11111', '22222']);
    expect(o?.error?.message).toBe('message type ADT^A24 is not handled by mapping hl7v2-default');
  });

  test('segments glued together with spaces are reported, not guessed at', () => {
    for (const file of ['nodehl7complete__ADT_A01_v2.3__segments_joined_by_spaces.hl7', 'cdc_ti__OML_O21_v2.5.1__epic_ca_nk1_no_relationship_email_in_xtn4.hl7']) {
      const [o] = byFile(file);
      expect(o?.error?.code).toBe('ERR_HL7_UNPARSEABLE');
      expect(o?.error?.message).toMatch(/^segments are joined by spaces on one line/);
    }
  });

  test('SIU S15 cancellation and S12 booking', () => {
    const [s15] = byFile('fhirconverter__SIU_S15_v2.8.hl7');
    expect(s15?.mapped?.ops[1]).toMatchObject({ kind: 'upsert-appointment', appointment: { id: '36996', patientId: 'PATID1234', status: 'cancelled' } });
    const [s12] = byFile('fhirconverter__SIU_S12_v2.8.hl7');
    expect(s12?.mapped?.ops[1]).toMatchObject({ kind: 'upsert-appointment', appointment: { status: 'booked', location: '055', provider: '1210' } });
  });

  test('custom subcomponent separator ^~\\} and raw backslashes in free text', () => {
    const [bar] = byFile('hapi__BAR_P01_v2.4__1993_numeric_nk1_rel_custom_escape_char.hl7');
    expect(bar?.parsed?.delimiters).toMatchObject({ escape: '\\', subcomponent: '}' });
    const [initech] = byFile('embe7__SIU_S14_v2.4__improper_escapes_trailing_spaces.hl7');
    expect(initech?.parsed?.first('NTE')?.value(3)).toBe('CT leg \\\\auth pending- cmw');
    expect(initech?.parsed?.first('PID')?.value(13, 2, 4)).toBe('drmrosenbaum@example.com');
  });
});
