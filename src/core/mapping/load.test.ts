import { formatProblem, loadMapping } from './load';

const minimal = `format: hl7v2
name: test
events:
  ADT^A04: upsert
patient:
  id: PID-3[5=MR].1
`;

describe('loadMapping', () => {
  test('a minimal mapping loads with the default policy', () => {
    const r = loadMapping(minimal, 'm.yaml');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.mapping.patient.id).toEqual({ paths: ['PID-3[5=MR].1'] });
    expect(r.mapping.events.get('ADT^A04')).toEqual({ action: 'upsert' });
    expect(r.mapping.policy.eligibleAuthorities).toEqual(['joint', 'exclusive']);
    expect(r.mapping.policy.minorAgeLimit).toBe(18);
    expect(r.mapping.unknownEvents).toBe('reject');
  });

  test('code maps are case-folded unless caseSensitive', () => {
    const r = loadMapping(
      `${minimal}contacts:
  - from: NK1
    fields:
      relationship: { path: NK1-3.1, map: rel }
codeMaps:
  rel:
    default: other
    values: { MTH: mother, Fth: father }
`,
      'm.yaml',
    );
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const rel = r.mapping.codeMaps.get('rel');
    expect(rel?.values.get('mth')).toBe('mother');
    expect(rel?.values.get('fth')).toBe('father');
    expect(rel?.default).toBe('other');
  });

  test('reports every problem at once, each with line and column', () => {
    const text = `format: hl7v2
name: broken
events:
  ADT^A04: upsert
  ADT-A08: upsert
patient:
  id: PID-3[5=MR.1
  birthdate: PID-7
contacts:
  - from: NK1
    fields:
      relationship: { path: NK1-3.1, map: relation }
      authority: { path: ZNK-2, map: auth }
codeMaps:
  auth:
    values: { J: joint, E: exclusive, X: sometimes }
policy:
  minorAgeLimit: eighteen
  timeZone: Mars/Olympus
`;
    const r = loadMapping(text, 'broken.yaml');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const lines = r.problems.map(formatProblem);
    // Schema problems come first (zod), then semantic ones once the schema passes; both name line and column.
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^broken\.yaml:5:3: events\.ADT-A08: bad key "ADT-A08": a message type such as ADT\^A04/),
        expect.stringMatching(/^broken\.yaml:8:3: patient\.birthdate: unknown key "birthdate"/),
        expect.stringMatching(/^broken\.yaml:18:18: policy\.minorAgeLimit: /),
        expect.stringMatching(/^broken\.yaml:19:13: policy\.timeZone: not an IANA time zone/),
      ]),
    );
    expect(r.problems.length).toBe(4);
  });

  test('semantic problems: bad paths, unknown code maps, values that do not fit the field', () => {
    const text = `format: hl7v2
name: semantic
events:
  ADT^A04: upsert
  ADT^A40: merge
patient:
  id: PID-3[5=MR].1
  birthDate: PID-x
contacts:
  - from: NK1
    fields:
      relationship: { path: NK1-3.1, map: relation }
      authority: { path: ZNK-2, map: auth }
codeMaps:
  auth:
    values: { J: joint, E: exclusive, X: sometimes }
`;
    const r = loadMapping(text, 's.yaml');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const lines = r.problems.map(formatProblem);
    expect(lines).toEqual([
      expect.stringMatching(/^s\.yaml:1:1: merge: a merge event needs merge\.survivorId and merge\.mergedId/),
      expect.stringMatching(/^s\.yaml:8:14: patient\.birthDate: bad path "PID-x"/),
      expect.stringMatching(/^s\.yaml:12:43: contacts\.0\.fields\.relationship\.map: no code map named "relation" \(known: auth\)/),
      expect.stringMatching(/^s\.yaml:16:42: codeMaps\.auth\.values\.X: "sometimes" is not one of joint, exclusive, none, unknown/),
    ]);
    expect(r.problems.map((p) => p.code)).toEqual(['ERR_MAPPING_INVALID_FILE', 'ERR_MAPPING_INVALID_PATH', 'ERR_MAPPING_INVALID_FILE', 'ERR_MAPPING_INVALID_FILE']);
  });

  test('YAML syntax errors are located', () => {
    const r = loadMapping('format: hl7v2\nname: [unclosed\n', 'y.yaml');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems[0]?.file).toBe('y.yaml');
    expect(r.problems[0]?.line).toBeGreaterThanOrEqual(2);
  });

  test('FHIR mappings check FHIRPath and refuse HL7-only sections', () => {
    const r = loadMapping(
      `format: fhir
name: f
events:
  ADT^A04: upsert
patient:
  id: id
  birthDate: "birthDate.where("
contacts:
  - from: RelatedPerson
    fields:
      email: telecom.where(system = 'email').value
`,
      'f.yaml',
    );
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const lines = r.problems.map(formatProblem).join('\n');
    expect(lines).toMatch(/f\.yaml:3:1: events: events apply to hl7v2 mappings only/);
    expect(lines).toMatch(/f\.yaml:7:14: patient\.birthDate: bad path/);
    expect(lines).toMatch(/contacts\.0\.fields: a RelatedPerson source needs patientId/);
  });
});
