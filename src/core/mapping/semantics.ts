import { APPOINTMENT_STATUSES, AUTHORITIES, RELATIONSHIPS } from '../model';
import { isRegion } from '../phone';
import type { FieldSpecInput, MappingFile } from './schema';
import { APPOINTMENT_FIELDS, CONTACT_FIELDS, MERGE_FIELDS, PATIENT_FIELDS, type FieldType } from './types';

/** A problem zod cannot see, located by its path in the document (and optionally a key inside it). */
export interface SemanticProblem {
  readonly path: readonly (string | number)[];
  readonly key?: string;
  readonly message: string;
  readonly code?: 'ERR_MAPPING_INVALID_PATH';
}

const FHIR_CONTACT_SOURCES = ['RelatedPerson', 'Patient.contact'];
const BOOLEAN_WORDS = new Set(['y', 'yes', 'true', '1', 't', 'n', 'no', 'false', '0', 'f']);

/**
 * Cross-field checks of a schema-valid mapping file: every path parses (`validatePath` returns the parser's
 * message or undefined), every `map` names a code map whose values fit the field's type, format-specific sections
 * are used only with their format, and what an event needs is mapped. Pure; returns every problem found.
 */
export function checkSemantics(f: MappingFile, validatePath: (path: string) => string | undefined): SemanticProblem[] {
  const problems: SemanticProblem[] = [];
  const hl7 = f.format === 'hl7v2';
  const checkFields = (section: readonly (string | number)[], fields: Record<string, FieldSpecInput | undefined>, types: Record<string, FieldType>): void => {
    for (const [name, spec] of Object.entries(fields)) {
      const type = types[name];
      if (spec === undefined || type === undefined) continue;
      checkSpec(f, [...section, name], spec, type, validatePath, problems);
    }
  };
  checkFields(['patient'], f.patient, PATIENT_FIELDS);
  checkFields(['merge'], f.merge, MERGE_FIELDS);
  checkFields(['appointment'], f.appointment, APPOINTMENT_FIELDS);
  f.contacts.forEach((c, i) => {
    checkFields(['contacts', i, 'fields'], c.fields, CONTACT_FIELDS);
    if (hl7 && !/^[A-Z][A-Z0-9]{2}$/.test(c.from)) problems.push({ path: ['contacts', i, 'from'], message: `"${c.from}" is not a segment name (e.g. NK1)` });
    if (!hl7 && !FHIR_CONTACT_SOURCES.includes(c.from)) problems.push({ path: ['contacts', i, 'from'], message: `must be one of ${FHIR_CONTACT_SOURCES.join(', ')}` });
    if (!hl7 && c.join.length > 0) problems.push({ path: ['contacts', i], key: 'join', message: 'join applies to hl7v2 mappings only' });
    if (!hl7 && c.from === 'RelatedPerson' && c.fields.patientId === undefined) {
      problems.push({ path: ['contacts', i, 'fields'], message: 'a RelatedPerson source needs patientId (e.g. patient.reference)' });
    }
  });
  if (!hl7 && Object.keys(f.events).length > 0) problems.push({ path: [], key: 'events', message: 'events apply to hl7v2 mappings only' });
  const actions = new Set(Object.values(f.events).map((r) => (typeof r === 'string' ? r : r.action)));
  for (const [type, rule] of Object.entries(f.events)) {
    if (typeof rule !== 'string' && rule.appointmentStatus !== undefined && !(APPOINTMENT_STATUSES as readonly string[]).includes(rule.appointmentStatus)) {
      problems.push({ path: ['events', type, 'appointmentStatus'], message: `must be one of ${APPOINTMENT_STATUSES.join(', ')}` });
    }
  }
  if (actions.has('merge') && (f.merge.survivorId === undefined || f.merge.mergedId === undefined)) {
    problems.push({ path: [], key: 'merge', message: 'a merge event needs merge.survivorId and merge.mergedId' });
  }
  const mapsAppointments = actions.has('appointment') || Object.keys(f.appointment).length > 0;
  if (mapsAppointments && f.appointment.id === undefined) {
    problems.push({ path: [], key: 'appointment', message: 'appointment.id is required when appointments are mapped' });
  }
  if (!isRegion(f.policy.defaultRegion)) problems.push({ path: ['policy', 'defaultRegion'], message: `"${f.policy.defaultRegion}" is not a region phone numbers know` });
  const { adolescent, minorAgeLimit } = f.policy;
  if (adolescent.enabled && adolescent.fromAge >= minorAgeLimit) {
    problems.push({ path: ['policy', 'adolescent', 'fromAge'], message: `must be below minorAgeLimit (${minorAgeLimit})` });
  }
  return problems;
}

function checkSpec(
  f: MappingFile,
  at: readonly (string | number)[],
  spec: FieldSpecInput,
  type: FieldType,
  validatePath: (path: string) => string | undefined,
  problems: SemanticProblem[],
): void {
  const obj = typeof spec === 'string' || Array.isArray(spec) ? undefined : spec;
  const paths: readonly string[] = typeof spec === 'string' ? [spec] : Array.isArray(spec) ? spec : typeof spec.path === 'string' ? [spec.path] : spec.path;
  const pathAt = (i: number): (string | number)[] => {
    if (obj === undefined) return typeof spec === 'string' ? [...at] : [...at, i];
    return typeof obj.path === 'string' ? [...at, 'path'] : [...at, 'path', i];
  };
  paths.forEach((p, i) => {
    const problem = validatePath(p);
    if (problem !== undefined) problems.push({ path: pathAt(i), message: `bad path "${p}": ${problem}`, code: 'ERR_MAPPING_INVALID_PATH' });
  });
  if (obj === undefined) return;
  if (obj.as !== undefined && f.format !== 'hl7v2') problems.push({ path: [...at, 'as'], message: `"as: ${obj.as}" applies to hl7v2 paths only` });
  if (obj.default !== undefined && obj.map === undefined) checkValue(obj.default, type, [...at, 'default'], problems);
  if (obj.map === undefined) return;
  const codeMap = f.codeMaps[obj.map];
  if (codeMap === undefined) {
    const known = Object.keys(f.codeMaps);
    problems.push({ path: [...at, 'map'], message: `no code map named "${obj.map}"${known.length > 0 ? ` (known: ${known.join(', ')})` : ''}` });
    return;
  }
  for (const [code, value] of Object.entries(codeMap.values)) checkValue(value, type, ['codeMaps', obj.map, 'values', code], problems, `used by ${at.join('.')}`);
  if (codeMap.default !== undefined) checkValue(codeMap.default, type, ['codeMaps', obj.map, 'default'], problems, `used by ${at.join('.')}`);
  if (obj.default !== undefined) checkValue(obj.default, type, [...at, 'default'], problems);
}

function checkValue(value: string | boolean, type: FieldType, at: readonly (string | number)[], problems: SemanticProblem[], context = ''): void {
  const allowed = allowedValues(type);
  const suffix = context === '' ? '' : ` (${context})`;
  if (type === 'boolean') {
    if (typeof value !== 'boolean' && !BOOLEAN_WORDS.has(value.toLowerCase())) problems.push({ path: at, message: `"${value}" is not yes/no${suffix}` });
    return;
  }
  if (allowed !== undefined && !allowed.includes(String(value))) {
    problems.push({ path: at, message: `"${String(value)}" is not one of ${allowed.join(', ')}${suffix}` });
  }
}

function allowedValues(type: FieldType): readonly string[] | undefined {
  switch (type) {
    case 'relationship':
      return RELATIONSHIPS;
    case 'authority':
      return AUTHORITIES;
    case 'appointment-status':
      return APPOINTMENT_STATUSES;
    default:
      return undefined;
  }
}
