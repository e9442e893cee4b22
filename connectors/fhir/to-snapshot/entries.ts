import { BridgeError } from '../../../src/errors';

/** A JSON object with a `resourceType`. */
export type FhirObject = Readonly<Record<string, unknown>> & { readonly resourceType: string; readonly id?: unknown };

/** One thing found in the input: a resource, or an entry that holds something that is not one. */
export type Entry =
  | { readonly kind: 'resource'; readonly resource: FhirObject; readonly at?: string }
  | { readonly kind: 'unreadable'; readonly at: string; readonly reason: string };

/** How deep Bundles may nest (a Bundle entry that is itself a Bundle…) before we stop. */
const MAX_DEPTH = 4;

/**
 * The top-level resource and every resource it carries, in order. Accepts parsed JSON or JSON text (a UTF-8 BOM
 * is ignored); a resource; a Bundle of any type, recursively; and the documentation shape `{fullUrl, resource}`,
 * also double-wrapped inside a Bundle entry. Entries without a resource (a transaction DELETE, a response) are
 * skipped. Throws ERR_FHIR_UNPARSEABLE when the input itself is not a FHIR resource.
 */
export function collectEntries(input: unknown): { readonly top: FhirObject; readonly entries: readonly Entry[] } {
  const json = typeof input === 'string' ? parseJson(input) : input;
  if (typeof json !== 'object' || json === null) throw unparseable(`input is ${describe(json)}, not a FHIR resource`);
  if (Array.isArray(json)) throw unparseable('input is a JSON array, not a FHIR resource or Bundle');
  const top = unwrap(json);
  if (!isResource(top)) throw unparseable('input has no resourceType');
  const entries: Entry[] = [];
  walk(top, undefined, 0, entries);
  return { top, entries };
}

function walk(resource: FhirObject, at: string | undefined, depth: number, out: Entry[]): void {
  if (resource.resourceType !== 'Bundle') {
    out.push(at === undefined ? { kind: 'resource', resource } : { kind: 'resource', resource, at });
    return;
  }
  const list = resource.entry;
  if (list === undefined) return;
  const prefix = at === undefined ? '' : `${at}.`;
  if (!Array.isArray(list)) {
    out.push({ kind: 'unreadable', at: `${prefix}entry`, reason: 'Bundle.entry is not a list' });
    return;
  }
  list.forEach((raw: unknown, i) => {
    const here = `${prefix}entry[${i}]`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      out.push({ kind: 'unreadable', at: here, reason: `Bundle ${here} is not an object` });
      return;
    }
    // A resource placed directly in the entry (no `resource` wrapper) is accepted as it is.
    const inner = isResource(raw) ? raw : unwrap((raw as Record<string, unknown>).resource);
    if (inner === undefined) return;
    if (!isResource(inner)) {
      out.push({ kind: 'unreadable', at: here, reason: `Bundle ${here} holds no resourceType` });
    } else if (inner.resourceType === 'Bundle' && depth + 1 > MAX_DEPTH) {
      out.push({ kind: 'unreadable', at: here, reason: `Bundles nested more than ${MAX_DEPTH} deep` });
    } else {
      walk(inner, here, depth + 1, out);
    }
  });
}

/** Strips `{fullUrl, resource}` wrappers (any number of them) around a resource. */
function unwrap(value: unknown): unknown {
  let v = value;
  for (let i = 0; i < 8 && isObject(v) && !('resourceType' in v) && 'resource' in v; i++) v = v.resource;
  return v;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isResource(v: unknown): v is FhirObject {
  return isObject(v) && typeof v.resourceType === 'string' && v.resourceType.trim() !== '';
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (cause) {
    throw unparseable('input is not valid JSON', cause);
  }
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'empty';
  return `a ${typeof v}`;
}

function unparseable(reason: string, cause?: unknown): BridgeError {
  return new BridgeError('ERR_FHIR_UNPARSEABLE', reason, cause === undefined ? undefined : { cause });
}
