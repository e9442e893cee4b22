import type { z } from 'zod';
import { firstLine, parseLocatedYaml, type YamlPosition } from '../../yaml-problems';
import { compileFhirPath } from './fhir-path';
import { parseHl7Path } from './hl7-path';
import { MappingFileSchema, type FieldSpecInput, type MappingFile } from './schema';
import { checkSemantics } from './semantics';
import type { CodeMap, ContactSource, EventRule, FieldSpec, Mapping } from './types';

/** One problem in a mapping file, located for the analyst. Lines and columns are 1-based. */
export interface MappingProblem {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  /** Dotted location inside the document, e.g. `contacts.0.fields.email`. */
  readonly at: string;
  readonly message: string;
  /** ERR_MAPPING_INVALID_PATH for a path that does not parse, else ERR_MAPPING_INVALID_FILE. */
  readonly code: 'ERR_MAPPING_INVALID_FILE' | 'ERR_MAPPING_INVALID_PATH';
}

export type LoadResult = { readonly ok: true; readonly mapping: Mapping } | { readonly ok: false; readonly problems: readonly MappingProblem[] };

/** `file:line:column: at: message` — the one-line form the CLI prints. */
export function formatProblem(p: MappingProblem): string {
  return `${p.file}:${p.line}:${p.column}: ${p.at === '' ? '' : `${p.at}: `}${p.message}`;
}

/**
 * Parses and validates a mapping file's text. Every problem is reported at once (YAML syntax, schema, paths,
 * code maps), each with its line and column, sorted by position. Pure: the caller reads the file.
 */
export function loadMapping(text: string, file: string): LoadResult {
  const yaml = parseLocatedYaml(text);
  if (yaml.syntaxErrors.length > 0) {
    return fail(yaml.syntaxErrors.map((e) => ({ file, line: e.line, column: e.column, at: '', message: e.message, code: INVALID })));
  }
  const locate = yaml.locate;
  const parsed = MappingFileSchema.safeParse(yaml.toJS() ?? {});
  if (!parsed.success) {
    return fail(parsed.error.issues.flatMap((issue) => zodProblems(issue, file, locate)));
  }
  const semantic = checkSemantics(parsed.data, validatePath(parsed.data.format));
  if (semantic.length > 0) {
    return fail(semantic.map((p) => ({ file, ...locate(p.path, p.key), at: [...p.path, ...(p.key === undefined ? [] : [p.key])].join('.'), message: p.message, code: p.code ?? 'ERR_MAPPING_INVALID_FILE' })));
  }
  return { ok: true, mapping: compile(parsed.data) };
}

function fail(problems: MappingProblem[]): LoadResult {
  problems.sort((a, b) => a.line - b.line || a.column - b.column);
  return { ok: false, problems };
}

function validatePath(format: MappingFile['format']): (path: string) => string | undefined {
  return (path) => {
    try {
      if (format === 'hl7v2') parseHl7Path(path);
      else compileFhirPath(path);
      return undefined;
    } catch (e) {
      return firstLine(e instanceof Error ? e.message : String(e));
    }
  };
}

function zodProblems(issue: z.core.$ZodIssue, file: string, locate: (p: readonly PropertyKey[], key?: string) => YamlPosition): MappingProblem[] {
  const path = issue.path;
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({ file, ...locate(path, key), at: [...path, key].join('.'), message: `unknown key "${key}"${suggest(key)}`, code: INVALID }));
  }
  if (issue.code === 'invalid_key') {
    const key = String(path[path.length - 1] ?? '');
    const why = issue.issues.map((i) => i.message).join('; ');
    return [{ file, ...locate(path.slice(0, -1), key), at: path.map(String).join('.'), message: `bad key "${key}": ${why}`, code: INVALID }];
  }
  if (issue.code === 'invalid_union' && issue.errors.length > 0) {
    // A field spec that matches no form: report the object form's problems, which name the bad key or value.
    const deepest = issue.errors[issue.errors.length - 1] ?? [];
    if (deepest.length > 0) return deepest.flatMap((inner) => zodProblems({ ...inner, path: [...path, ...inner.path] }, file, locate));
  }
  return [{ file, ...locate(path), at: path.map(String).join('.'), message: issue.message, code: INVALID }];
}

const INVALID = 'ERR_MAPPING_INVALID_FILE';

const KNOWN_TYPOS: Readonly<Record<string, string>> = { maps: 'map', paths: 'path', codemaps: 'codeMaps', contact: 'contacts', event: 'events' };
function suggest(key: string): string {
  const hint = KNOWN_TYPOS[key.toLowerCase()];
  return hint === undefined ? '' : ` (did you mean "${hint}"?)`;
}

function compileSpec(spec: FieldSpecInput): FieldSpec {
  if (typeof spec === 'string') return { paths: [spec] };
  if (Array.isArray(spec)) return { paths: spec };
  const { path, map, default: dflt, as } = spec;
  return { paths: typeof path === 'string' ? [path] : path, ...(map && { map }), ...(dflt !== undefined && { default: dflt }), ...(as && { as }) };
}

function compileFields<K extends string>(fields: Partial<Record<K, FieldSpecInput>>): Partial<Record<K, FieldSpec>> {
  const out: Partial<Record<K, FieldSpec>> = {};
  for (const [k, v] of Object.entries(fields) as [K, FieldSpecInput | undefined][]) if (v !== undefined) out[k] = compileSpec(v);
  return out;
}

function compile(f: MappingFile): Mapping {
  const events = new Map<string, EventRule>();
  for (const [type, rule] of Object.entries(f.events)) {
    events.set(type, typeof rule === 'string' ? { action: rule } : { action: rule.action, ...(rule.appointmentStatus && { appointmentStatus: rule.appointmentStatus }) });
  }
  const codeMaps = new Map<string, CodeMap>();
  for (const [name, m] of Object.entries(f.codeMaps)) {
    const values = new Map<string, string | boolean>();
    for (const [code, value] of Object.entries(m.values)) values.set(m.caseSensitive ? code.trim() : code.trim().toLowerCase(), value);
    codeMaps.set(name, { values, caseSensitive: m.caseSensitive, ...(m.default !== undefined && { default: m.default }) });
  }
  const contacts: ContactSource[] = f.contacts.map((c) => ({ from: c.from, join: c.join, fields: compileFields(c.fields) }));
  return {
    format: f.format,
    name: f.name,
    ...(f.description !== undefined && { description: f.description }),
    events,
    unknownEvents: f.unknownEvents,
    patient: compileFields(f.patient),
    contacts,
    merge: compileFields(f.merge),
    appointment: compileFields(f.appointment),
    codeMaps,
    policy: f.policy,
  };
}
