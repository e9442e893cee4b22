import type { Hl7SegmentView, ParsedHl7 } from '../../../src/core/hl7/message';
import { evaluateHl7Path, Hl7PathError, parseHl7Path, type Hl7Path } from '../../../src/core/mapping/hl7-path';
import type { FieldSpec, SegmentJoin } from '../../../src/core/mapping/types';
import { BridgeError } from '../../../src/errors';

/**
 * Where a path's segment comes from while one message is mapped: the current contact row, a segment joined to
 * it, the current patient's group, else the message (MSH, EVN…). Pure.
 */
export interface Scope {
  resolve(name: string): Hl7SegmentView | undefined;
}

/** The segments of one patient: from a PID up to the next PID (segments before the first PID join the first group). */
export class PatientGroup implements Scope {
  private index: Map<string, Hl7SegmentView> | undefined;

  constructor(
    readonly segments: readonly Hl7SegmentView[],
    private readonly message: ParsedHl7,
  ) {}

  /** The group's first segment of that name, else the message's. */
  resolve(name: string): Hl7SegmentView | undefined {
    if (this.index === undefined) {
      this.index = new Map();
      for (const s of this.segments) if (!this.index.has(s.name)) this.index.set(s.name, s);
    }
    return this.index.get(name) ?? this.message.first(name);
  }
}

const MESSAGE_LEVEL = new Set(['MSH', 'EVN']);

/**
 * Splits a message into patient groups. One PID: every segment belongs to it (NK1 may come before PID). Several
 * PIDs (A40 pairs, A24): a group starts at each PID; what comes before the first PID belongs to the first group.
 * MSH and EVN belong to the message. A message without PID is one group.
 */
export function patientGroups(message: ParsedHl7): PatientGroup[] {
  const groups: Hl7SegmentView[][] = [];
  let current: Hl7SegmentView[] = [];
  let seenPid = false;
  for (const s of message.segments) {
    if (MESSAGE_LEVEL.has(s.name)) continue;
    if (s.name === 'PID') {
      if (seenPid) {
        groups.push(current);
        current = [];
      }
      seenPid = true;
    }
    current.push(s);
  }
  groups.push(current);
  return groups.map((segments) => new PatientGroup(segments, message));
}

/** One contact row (an occurrence of the source's `from` segment) with its joined segments. */
export class RowScope implements Scope {
  private readonly joined = new Map<string, Hl7SegmentView | undefined>();

  constructor(
    readonly row: Hl7SegmentView,
    rowIndex: number,
    joins: readonly SegmentJoin[],
    private readonly group: PatientGroup,
  ) {
    for (const join of joins) this.joined.set(join.segment, joinedSegment(group.segments, rowIndex, join));
  }

  /** The row for its own segment name, the joined segment (or nothing: never another row's), else the group's. */
  resolve(name: string): Hl7SegmentView | undefined {
    if (name === this.row.name) return this.row;
    if (this.joined.has(name)) return this.joined.get(name);
    return this.group.resolve(name);
  }
}

/**
 * SegmentJoin (types.ts): the first `join.segment` after the row whose field `join.on` equals the row's set id
 * (field 1); when the row has no set id, the segment immediately following the row. Also, when no segment
 * matches by set id, an immediately following one whose `on` field is empty (senders that leave it blank).
 */
export function joinedSegment(segments: readonly Hl7SegmentView[], rowIndex: number, join: SegmentJoin): Hl7SegmentView | undefined {
  const row = segments[rowIndex];
  if (row === undefined) return undefined;
  const next = segments[rowIndex + 1];
  const adjacent = next !== undefined && next.name === join.segment ? next : undefined;
  const setId = normaliseSetId(row.value(1));
  if (setId === '') return adjacent;
  for (let k = rowIndex + 1; k < segments.length; k++) {
    const s = segments[k] as Hl7SegmentView;
    if (s.name === join.segment && normaliseSetId(s.value(join.on)) === setId) return s;
  }
  return adjacent !== undefined && normaliseSetId(adjacent.value(join.on)) === '' ? adjacent : undefined;
}

function normaliseSetId(v: string): string {
  const t = v.trim();
  return /^\d+$/.test(t) ? String(Number(t)) : t;
}

/** Paths are parsed once: a mapping has a few dozen, read for every message (bounded, deterministic memo). */
const PARSED_PATHS = new Map<string, Hl7Path>();

/** The `read` callback of readField (values.ts) for one scope. */
export function reader(scope: Scope): (path: string, spec: FieldSpec) => string | undefined {
  return (text, spec) => {
    let path = PARSED_PATHS.get(text);
    if (path === undefined) {
      try {
        path = parseHl7Path(text);
      } catch (e) {
        if (e instanceof Hl7PathError) throw new BridgeError('ERR_MAPPING_INVALID_PATH', `bad path "${text}": ${e.message}`);
        throw e;
      }
      if (PARSED_PATHS.size < 10_000) PARSED_PATHS.set(text, path);
    }
    const segment = scope.resolve(path.segment);
    return segment === undefined ? undefined : evaluateHl7Path(path, segment, spec.as);
  };
}
