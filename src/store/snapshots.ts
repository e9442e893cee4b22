/**
 * Current state (patients, contact rows, appointments), changed only through SnapshotBuilder: the store loads
 * the rows the ops touch into a builder, applies the ops with the builder's semantics (older never overwrites
 * newer, replace / merge contacts, A40 merges reaching the survivor), and writes back what changed.
 */
import type { Appointment, Contact, Patient, Snapshot, SnapshotOp } from '../core/model';
import { emailKey, nameKey } from '../core/identity';
import { SnapshotBuilder } from '../core/snapshot';
import type { Db } from './db';
import { chunks, dialectOf, distinctSorted, writeTransaction } from './db';
import { fromJson, sameJson, toDbTime, toJson } from './column-values';

export interface ApplyResult {
  /** Per op, in order: whether it changed anything (false: stale, an older message lost to newer data). */
  readonly applied: boolean[];
  /** Patients whose record or contact rows changed, and patients of changed appointments; sorted. */
  readonly patientIds: string[];
  /** The touched rows before the ops (the ingest derives the guardians whose rows went away from it). */
  readonly before: Snapshot;
  /** The touched rows after the ops. */
  readonly after: Snapshot;
}

/** Keys whose contact rows make up a guardian's neighbourhood. */
export interface NeighbourhoodSeed {
  readonly contactIds?: readonly string[];
  readonly emailKeys?: readonly string[];
  readonly patientIds?: readonly string[];
}

/** A snapshot of a closure; `complete` is false when `maxRounds` ran out before the closure stopped growing. */
export interface Neighbourhood extends Snapshot {
  readonly complete: boolean;
}

interface LoadedState {
  readonly patients: Map<string, Patient>;
  readonly contacts: Map<string, Contact[]>;
  readonly appointments: Map<string, Appointment>;
}

// SnapshotBuilder follows merge chains for up to 16 hops.
const MAX_MERGE_HOPS = 16;
const IN_CHUNK = 500;

/**
 * Applies the ops of one input (or a batch) in one transaction and records `inboxId` on the rows it wrote.
 * On PostgreSQL the touched patients and appointments are locked (transaction-level advisory locks, in key
 * order) before they are read, so two writers of the same patient serialise; on SQLite the write lock is taken
 * first. A deadlock between merge chains is reported as ERR_STORE_UNAVAILABLE (retry).
 */
export async function applySnapshotOps(db: Db, ops: readonly SnapshotOp[], inboxId?: number, options: { now?: Date } = {}): Promise<ApplyResult> {
  const updatedAt = toDbTime(options.now ?? new Date());
  // Inside a caller's write transaction (the ingest's) its lock and atomicity serve: no savepoint round trips.
  const inTransaction = <T>(work: (trx: Db) => Promise<T>): Promise<T> => (db.isTransaction === true ? work(db) : writeTransaction(db, work));
  return inTransaction(async (trx) => {
    const before = await loadForOps(trx, ops);
    const builder = new SnapshotBuilder();
    for (const [id, p] of before.patients) builder.patients.set(id, p);
    for (const [id, rows] of before.contacts) builder.contacts.set(id, [...rows]);
    for (const [id, a] of before.appointments) builder.appointments.set(id, a);
    const applied = ops.map((op) => builder.apply(op) === 'applied');

    const changed = new Set<string>();
    const lastInbox = inboxId ?? null;
    for (const [id, patient] of builder.patients) {
      if (sameJson(before.patients.get(id), patient)) continue;
      await trx('patients')
        .insert({ id, data: toJson(patient), source_version: patient.sourceVersion, merged_into: patient.mergedInto ?? null, email_key: emailKey(patient.email) ?? null, updated_at: updatedAt, last_inbox_id: lastInbox })
        .onConflict('id')
        .merge();
      changed.add(id);
    }
    for (const [patientId, rows] of builder.contacts) {
      if (sameContacts(before.contacts.get(patientId) ?? [], rows)) continue;
      await trx('contacts').where({ patient_id: patientId }).delete();
      for (const part of chunks(rows.map((c, i) => contactRow(patientId, i, c)), 100)) await trx('contacts').insert(part);
      changed.add(patientId);
    }
    for (const [id, appointment] of builder.appointments) {
      if (sameJson(before.appointments.get(id), appointment)) continue;
      await trx('appointments')
        .insert({ id, patient_id: appointment.patientId, data: toJson(appointment), source_version: appointment.sourceVersion, updated_at: updatedAt, last_inbox_id: lastInbox })
        .onConflict('id')
        .merge();
      changed.add(appointment.patientId);
    }
    return { applied, patientIds: distinctSorted(changed), before, after: builder };
  });
}

/** The stored state of these patients (their records, contact rows in feed order, appointments). */
/** Patient ids in id order, a page at a time (`after` the last id of the previous page). For full sweeps. */
export async function listPatientIds(db: Db, page: { after?: string; limit: number }): Promise<string[]> {
  const q = db('patients').select('id').orderBy('id').limit(page.limit);
  if (page.after !== undefined) q.where('id', '>', page.after);
  return (await q).map((r: { id: unknown }) => String(r.id));
}

export async function loadSnapshot(db: Db, query: { patientIds: readonly string[] }): Promise<Snapshot> {
  const ids = distinctSorted(query.patientIds);
  const patients = new Map<string, Patient>();
  const contacts = new Map<string, Contact[]>();
  const appointments = new Map<string, Appointment>();
  for (const part of chunks(ids, IN_CHUNK)) {
    for (const row of await db('patients').select('id', 'data').whereIn('id', part)) patients.set(String(row.id), fromJson<Patient>(row.data));
    for (const row of await db('contacts').select('patient_id', 'data').whereIn('patient_id', part).orderBy(['patient_id', 'row_no'])) {
      const list = contacts.get(String(row.patient_id)) ?? [];
      list.push(fromJson<Contact>(row.data));
      contacts.set(String(row.patient_id), list);
    }
    for (const row of await db('appointments').select('id', 'data').whereIn('patient_id', part).orderBy('id')) appointments.set(String(row.id), fromJson<Appointment>(row.data));
  }
  return { patients, contacts, appointments };
}

/** Contact rows matching any of the keys (contact id, email-key, name-key, patient id). */
export async function contactsByKeys(
  db: Db,
  keys: { contactIds?: readonly string[]; emailKeys?: readonly string[]; nameKeys?: readonly string[]; patientIds?: readonly string[] },
): Promise<Contact[]> {
  const filters: [string, string[]][] = [
    ['contact_id', distinctSorted(keys.contactIds ?? [])],
    ['email_key', distinctSorted(keys.emailKeys ?? [])],
    ['name_key', distinctSorted(keys.nameKeys ?? [])],
    ['patient_id', distinctSorted(keys.patientIds ?? [])],
  ];
  const seen = new Set<string>();
  const out: Contact[] = [];
  for (const [column, values] of filters) {
    for (const part of chunks(values, IN_CHUNK)) {
      const rows = await db('contacts').select('patient_id', 'row_no', 'data').whereIn(column, part).orderBy(['patient_id', 'row_no']);
      for (const row of rows) {
        const id = `${String(row.patient_id)}#${String(row.row_no)}`;
        if (seen.has(id)) continue;
        seen.add(id);
        out.push(fromJson<Contact>(row.data));
      }
    }
  }
  return out;
}

/**
 * The state a guardian's reconcile needs: starting from the seed, repeatedly adds the rows sharing a contact id
 * or an email-key with rows found so far, their patients (and merge partners, and patients whose own email has
 * such a key), and those patients' other rows,
 * one SQL round per step, for at most `maxRounds` steps. Read in one transaction (REPEATABLE READ on PostgreSQL)
 * so all rounds see the same state.
 */
export async function loadNeighbourhood(db: Db, seed: NeighbourhoodSeed, maxRounds = 5): Promise<Neighbourhood> {
  const run = async (trx: Db): Promise<Neighbourhood> => {
    const seen = { contactIds: new Set<string>(), emailKeys: new Set<string>(), patientIds: new Set<string>() };
    // What the rounds read already: every contact row found, and the records of patients asked for by id. A
    // patient asked for by id had all its rows read too, so the final snapshot only loads the rest.
    const rowsFound = new Map<string, { patientId: string; rowNo: number; contact: Contact }>();
    const patientsRead = new Map<string, Patient>();
    let frontier = {
      contactIds: distinctSorted(seed.contactIds ?? []),
      emailKeys: distinctSorted(seed.emailKeys ?? []),
      patientIds: distinctSorted(seed.patientIds ?? []),
    };
    const isEmpty = (f: typeof frontier): boolean => f.contactIds.length + f.emailKeys.length + f.patientIds.length === 0;
    for (let round = 0; round < maxRounds && !isEmpty(frontier); round++) {
      frontier.contactIds.forEach((k) => seen.contactIds.add(k));
      frontier.emailKeys.forEach((k) => seen.emailKeys.add(k));
      frontier.patientIds.forEach((k) => seen.patientIds.add(k));
      const rows = await contactRowsByKeys(trx, frontier);
      for (const row of rows) rowsFound.set(`${row.patientId}#${row.rowNo}`, row);
      const partners = await relatedPatients(trx, frontier.patientIds, frontier.emailKeys, patientsRead);
      frontier = {
        contactIds: distinctSorted(rows.flatMap((r) => (r.contact.contactId === undefined ? [] : [r.contact.contactId]))).filter((k) => !seen.contactIds.has(k)),
        emailKeys: distinctSorted(rows.flatMap((r) => emailKey(r.contact.email) ?? [])).filter((k) => !seen.emailKeys.has(k)),
        patientIds: distinctSorted([...rows.map((r) => r.contact.patientId), ...partners]).filter((k) => !seen.patientIds.has(k)),
      };
    }
    // Patients of the last frontier were never asked for by id (the rounds ran out): load them whole.
    const rest = await loadSnapshot(trx, { patientIds: frontier.patientIds });
    frontier.patientIds.forEach((k) => seen.patientIds.add(k));
    const ids = distinctSorted(seen.patientIds);
    const patients = new Map<string, Patient>();
    const contacts = new Map<string, Contact[]>();
    const byPatient = new Map<string, { rowNo: number; contact: Contact }[]>();
    for (const r of rowsFound.values()) byPatient.set(r.patientId, [...(byPatient.get(r.patientId) ?? []), r]);
    for (const id of ids) {
      const patient = rest.patients.get(id) ?? patientsRead.get(id);
      if (patient !== undefined) patients.set(id, patient);
    }
    for (const id of ids) {
      const list = [...(rest.contacts.get(id) ?? (byPatient.get(id) ?? []).sort((a, b) => a.rowNo - b.rowNo).map((r) => r.contact))];
      if (list.length > 0) contacts.set(id, list);
    }
    const appointments = new Map<string, Appointment>();
    for (const part of chunks(ids, IN_CHUNK)) {
      for (const row of await trx('appointments').select('id', 'data').whereIn('patient_id', part).orderBy('id')) appointments.set(String(row.id), fromJson<Appointment>(row.data));
    }
    return { patients, contacts, appointments, complete: isEmpty(frontier) };
  };
  // Inside a caller's transaction its snapshot serves (no savepoint round trips).
  if (db.isTransaction === true) return run(db);
  if (dialectOf(db) === 'postgres') return db.transaction(run, { isolationLevel: 'repeatable read' });
  return db.transaction(run);
}

/** Contact rows matching any of the keys, with their place (patient id, row number). */
async function contactRowsByKeys(
  db: Db,
  keys: { contactIds?: readonly string[]; emailKeys?: readonly string[]; patientIds?: readonly string[] },
): Promise<{ patientId: string; rowNo: number; contact: Contact }[]> {
  const filters: [string, string[]][] = [
    ['contact_id', distinctSorted(keys.contactIds ?? [])],
    ['email_key', distinctSorted(keys.emailKeys ?? [])],
    ['patient_id', distinctSorted(keys.patientIds ?? [])],
  ];
  const seen = new Set<string>();
  const out: { patientId: string; rowNo: number; contact: Contact }[] = [];
  // Few keys (the usual neighbourhood): one statement for all columns; else one per column and chunk.
  const total = filters.reduce((n, [, values]) => n + values.length, 0);
  if (total === 0) return [];
  const few = total <= IN_CHUNK;
  const queries = few
    ? [db('contacts').select('patient_id', 'row_no', 'data').where((q) => { for (const [column, values] of filters) if (values.length > 0) q.orWhereIn(column, values); })]
    : filters.flatMap(([column, values]) => chunks(values, IN_CHUNK).map((part) => db('contacts').select('patient_id', 'row_no', 'data').whereIn(column, part)));
  for (const query of queries) {
    const rows = await query.orderBy(['patient_id', 'row_no']);
    for (const row of rows) {
      const id = `${String(row.patient_id)}#${String(row.row_no)}`;
      if (seen.has(id)) continue;
      seen.add(id);
      out.push({ patientId: String(row.patient_id), rowNo: Number(row.row_no), contact: fromJson<Contact>(row.data) });
    }
  }
  return out;
}

/** Patients whose own email (PID-13 / Patient.telecom) has one of these email-keys. */
async function patientsByEmail(db: Db, emailKeys: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const part of chunks(emailKeys, IN_CHUNK)) out.push(...(await db('patients').select('id').whereIn('email_key', part)).map((r: { id: unknown }) => String(r.id)));
  return out;
}

/**
 * Merge partners of `patientIds` and patients whose own email has one of `emailKeys` (one statement when the keys
 * are few); records the records of `patientIds` in `read`.
 */
async function relatedPatients(db: Db, patientIds: readonly string[], emailKeys: readonly string[], read: Map<string, Patient>): Promise<string[]> {
  if (patientIds.length + emailKeys.length > IN_CHUNK) return [...(await mergePartners(db, patientIds, read)), ...(await patientsByEmail(db, emailKeys))];
  if (patientIds.length + emailKeys.length === 0) return [];
  const asked = new Set(patientIds);
  const rows = await db('patients')
    .select('id', 'merged_into', 'data')
    .where((q) => {
      if (patientIds.length > 0) q.orWhereIn('id', [...patientIds]).orWhereIn('merged_into', [...patientIds]);
      if (emailKeys.length > 0) q.orWhereIn('email_key', [...emailKeys]);
    });
  const out: string[] = [];
  for (const row of rows) {
    const id = String(row.id);
    const mergedInto = row.merged_into === null || row.merged_into === undefined ? undefined : String(row.merged_into);
    out.push(id);
    if (asked.has(id)) read.set(id, fromJson<Patient>(row.data));
    // As mergePartners: the other side of a merge with an asked-for patient.
    if (mergedInto !== undefined && (asked.has(id) || asked.has(mergedInto))) out.push(mergedInto);
  }
  return out;
}

/** Patients merged into these, and those these were merged into; records the records of `patientIds` in `read`. */
async function mergePartners(db: Db, patientIds: readonly string[], read: Map<string, Patient>): Promise<string[]> {
  const out: string[] = [];
  const asked = new Set(patientIds);
  for (const part of chunks(patientIds, IN_CHUNK)) {
    const rows = await db('patients').select('id', 'merged_into', 'data').whereIn('id', part).orWhereIn('merged_into', part);
    for (const row of rows) {
      out.push(String(row.id));
      if (asked.has(String(row.id))) read.set(String(row.id), fromJson<Patient>(row.data));
      if (row.merged_into !== null && row.merged_into !== undefined) out.push(String(row.merged_into));
    }
  }
  return out;
}

/** Locks and loads every patient and appointment the ops touch, following stored merge chains. */
async function loadForOps(trx: Db, ops: readonly SnapshotOp[]): Promise<LoadedState> {
  const patients = new Map<string, Patient>();
  const contacts = new Map<string, Contact[]>();
  const appointments = new Map<string, Appointment>();
  const appointmentIds = distinctSorted(ops.flatMap((op) => (op.kind === 'upsert-appointment' ? [op.appointment.id] : [])));
  await lockKeys(trx, appointmentIds.map((id) => `appointment:${id}`));
  for (const part of chunks(appointmentIds, IN_CHUNK)) {
    for (const row of await trx('appointments').select('id', 'data').whereIn('id', part)) appointments.set(String(row.id), fromJson<Appointment>(row.data));
  }
  const loaded = new Set<string>();
  let next = distinctSorted(ops.flatMap(patientIdsOf));
  for (let hop = 0; hop <= MAX_MERGE_HOPS && next.length > 0; hop++) {
    await lockKeys(trx, next.map((id) => `patient:${id}`));
    next.forEach((id) => loaded.add(id));
    const found = await loadSnapshot(trx, { patientIds: next });
    for (const [id, p] of found.patients) patients.set(id, p);
    for (const [id, rows] of found.contacts) contacts.set(id, [...rows]);
    next = distinctSorted([...found.patients.values()].flatMap((p) => (p.mergedInto === undefined ? [] : [p.mergedInto]))).filter((id) => !loaded.has(id));
  }
  return { patients, contacts, appointments };
}

function patientIdsOf(op: SnapshotOp): string[] {
  switch (op.kind) {
    case 'upsert-patient':
      return [op.patient.id];
    case 'upsert-contacts':
      return [op.patientId];
    case 'merge-patient':
      return [op.survivorId, op.mergedId];
    case 'upsert-appointment':
      return [];
    default:
      return op satisfies never;
  }
}

/** PostgreSQL transaction-level advisory locks, taken in key order (SQLite: the write lock covers it). */
async function lockKeys(trx: Db, keys: readonly string[]): Promise<void> {
  if (keys.length === 0 || dialectOf(trx) !== 'postgres') return;
  await trx.raw('SELECT count(pg_advisory_xact_lock(hashtextextended(k, 0))) FROM (SELECT unnest(?::text[]) AS k ORDER BY 1) AS s', [
    distinctSorted(keys.map((k) => `portal-bridge:${k}`)),
  ]);
}

function sameContacts(a: readonly Contact[], b: readonly Contact[]): boolean {
  return a.length === b.length && a.every((c, i) => sameJson(c, b[i]));
}

function contactRow(patientId: string, rowNo: number, c: Contact): Record<string, unknown> {
  return {
    patient_id: patientId,
    row_no: rowNo,
    contact_id: c.contactId ?? null,
    email_key: emailKey(c.email) ?? null,
    name_key: nameKey(c.name),
    origin: c.origin ?? '',
    row_key: c.rowKey ?? null,
    data: toJson(c),
    source_version: c.sourceVersion,
  };
}
