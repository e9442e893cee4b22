import { compileFhirPath, evaluateFhirPath } from '../../../src/core/mapping/fhir-path';
import type { CodeMap, FieldSpec, FieldType, Mapping } from '../../../src/core/mapping/types';
import { readField, type FieldValue } from '../../../src/core/mapping/values';
import { isBridgeError } from '../../../src/errors';

/** One field as read: the canonical value, and the raw text it came from (before the code map). */
interface Read {
  readonly value: FieldValue;
  readonly raw?: string;
}

/** Reads the canonical fields of one section (patient, a contact source, appointment) from one FHIR node. */
export interface FieldReader<K extends string> {
  /** The field as text (strings, dates, codes after the code map); undefined when empty or dropped. */
  text(name: K): string | undefined;
  /** The field as a yes/no; undefined when empty or dropped. */
  flag(name: K): boolean | undefined;
  /** The text the value came from, before the code map (e.g. the relationship code as sent). */
  raw(name: K): string | undefined;
}

/**
 * A reader over `node` (a resource, or an element from selectFhirElements) for the fields of `section`.
 * Each field goes through readField (code map, default, type coercion); its warnings, prefixed with `label`
 * when given, land in `warnings`. Each field is evaluated once.
 */
export function fieldReader<K extends string>(
  node: unknown,
  section: Readonly<Partial<Record<K, FieldSpec>>>,
  types: Readonly<Record<K, FieldType>>,
  mapping: Mapping,
  warnings: string[],
  label = '',
): FieldReader<K> {
  const done = new Map<K, Read>();
  const get = (name: K): Read => {
    let r = done.get(name);
    if (r === undefined) {
      r = readOne(name, section[name], types[name], node, mapping, warnings, label);
      done.set(name, r);
    }
    return r;
  };
  return {
    text: (name) => {
      const v = get(name).value;
      return typeof v === 'string' ? v : undefined;
    },
    flag: (name) => {
      const v = get(name).value;
      return typeof v === 'boolean' ? v : undefined;
    },
    raw: (name) => get(name).raw,
  };
}

function readOne(name: string, spec: FieldSpec | undefined, type: FieldType, node: unknown, mapping: Mapping, warnings: string[], label: string): Read {
  if (spec === undefined) return { value: undefined };
  const own: string[] = [];
  const codeMap = spec.map === undefined ? undefined : mapping.codeMaps.get(spec.map);
  const chosen = choose(name, spec, node, codeMap, own);
  const value = readField(name, spec, type, mapping, (path) => (chosen !== undefined && path === chosen.path ? chosen.raw : undefined), own);
  for (const w of own) warnings.push(label === '' ? w : `${label} ${w}`);
  return chosen === undefined ? { value } : { value, raw: chosen.raw };
}

/**
 * Picks the raw text of a field across its paths. With a code map: the first value (in path order, then in the
 * order FHIRPath returns them) that the code map knows, because one CodeableConcept often carries a contact role
 * (v2-0131 N) next to the family relation (v3 MTH); else the first value of the first path that has one.
 */
function choose(name: string, spec: FieldSpec, node: unknown, codeMap: CodeMap | undefined, warnings: string[]): { path: string; raw: string } | undefined {
  let fallback: { path: string; raw: string } | undefined;
  for (const path of spec.paths) {
    const values = texts(name, path, node, warnings);
    if (codeMap !== undefined) {
      const known = values.find((v) => knows(codeMap, v));
      if (known !== undefined) return { path, raw: known };
    }
    const first = values[0];
    if (fallback === undefined && first !== undefined) {
      fallback = { path, raw: first };
      if (codeMap === undefined) return fallback;
    }
  }
  return fallback;
}

function knows(codeMap: CodeMap, raw: string): boolean {
  return codeMap.values.has(codeMap.caseSensitive ? raw : raw.toLowerCase());
}

/** The non-empty primitive results of one path, as trimmed text. Structures are skipped with a warning. */
function texts(name: string, path: string, node: unknown, warnings: string[]): string[] {
  let results: unknown[];
  try {
    results = evaluateFhirPath(compileFhirPath(path), node);
  } catch (e) {
    if (!isBridgeError(e)) throw e;
    warnings.push(`${name} path could not be evaluated here; ignored`);
    return [];
  }
  const out: string[] = [];
  let structure = false;
  for (const r of results) {
    if (typeof r === 'string' || typeof r === 'boolean' || typeof r === 'number' || typeof r === 'bigint') {
      const t = String(r).trim();
      if (t !== '') out.push(t);
    } else if (r !== null && r !== undefined) {
      structure = true;
    }
  }
  if (structure && out.length === 0) warnings.push(`${name} path gives a structure, not a value (add e.g. .code or .value); ignored`);
  return out;
}

/**
 * The logical id in a reference: `Patient/123` → `123`, `https://x/fhir/Patient/123/_history/2` → `123`,
 * `urn:uuid:abc` → `abc`. Text that is not a reference (an identifier value such as an NHS number) is kept.
 */
export function referenceId(ref: string): string {
  const t = ref.trim();
  const urn = /^urn:(?:uuid|oid):(.+)$/i.exec(t);
  if (urn?.[1] !== undefined) return urn[1];
  const parts = t.replace(/\/_history\/[^/]*$/, '').split('/').filter((p) => p !== '');
  return parts[parts.length - 1] ?? t;
}
