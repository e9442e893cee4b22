import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { spoilLine } from './faults';
import { instantRange } from './instant';
import { FhirError, operationOutcome, sendFhir } from './outcome';
import { values, type Query } from './search';
import { lowerBound, type ResourceStore, type Row } from './store';

/**
 * FHIR Bulk Data `$export` (system, Patient and Group level — a Group's export holds its member Patients and the
 * compartment resources that refer to them): kick-off with `Prefer: respond-async` → 202 + Content-Location;
 * status → 202 (Retry-After, X-Progress) `exportPolls` times, then 200 with the manifest; NDJSON files streamed from a
 * snapshot of rows taken at kick-off (rows are immutable, so later updates do not leak in), built line by line with
 * backpressure — never a whole file in memory. DELETE on the status URL cancels.
 * Handlers throw FhirError; the server's error handler answers it as an OperationOutcome.
 * `_since` keeps resources with meta.lastUpdated ≥ _since (inclusive: a client re-reading one instant is harmless).
 */

export interface ExportContext {
  readonly store: ResourceStore;
  readonly baseUrl: () => string;
  readonly now: () => Date;
  readonly polls: number;
  readonly retryAfterS: number;
  readonly fileLines: number;
  readonly requiresAccessToken: boolean;
  /** The malformed-fault of this request, if any (applied to one NDJSON line). */
  readonly malformedOf: (req: FastifyRequest) => 'json' | 'resource' | undefined;
}

interface ExportFile {
  readonly type: string;
  readonly name: string;
  readonly rows: readonly Row[];
}

interface ExportJob {
  readonly request: string;
  readonly transactionTime: string;
  readonly files: readonly ExportFile[];
  pollsLeft: number;
}

/** Types of the Patient compartment that a Patient-level export may hold. */
const PATIENT_COMPARTMENT = new Set([
  'Patient', 'RelatedPerson', 'Appointment', 'Encounter', 'Observation', 'Condition', 'Immunization', 'Procedure',
  'MedicationRequest', 'MedicationStatement', 'MedicationAdministration', 'DiagnosticReport', 'Claim',
  'ExplanationOfBenefit', 'Consent', 'AllergyIntolerance', 'CarePlan', 'CareTeam', 'DocumentReference', 'Goal',
  'ImagingStudy', 'Coverage', 'ServiceRequest', 'Device',
]);
const NDJSON_FORMATS = new Set(['application/fhir+ndjson', 'application/ndjson', 'ndjson']);
const KICKOFF_PARAMS = new Set(['_type', '_since', '_outputFormat']);
const CHUNK_CHARS = 64 * 1024;

export function exportRoutes(app: FastifyInstance, ctx: ExportContext): void {
  const jobs = new Map<string, ExportJob>();
  /** `members`: a Group export's `Patient/<id>` references (undefined: every patient). */
  const kickOff = (level: 'system' | 'patient' | 'group', members?: readonly string[]) => async (req: FastifyRequest, reply: FastifyReply) => {
    if (!/respond-async/i.test(String(req.headers.prefer ?? ''))) throw new FhirError(400, 'invalid', 'Prefer: respond-async is required');
    const query = req.query as Query;
    for (const name of Object.keys(query)) if (!KICKOFF_PARAMS.has(name)) throw new FhirError(400, 'not-supported', `$export parameter "${name}" is not supported`);
    const format = values(query, '_outputFormat')[0];
    if (format !== undefined && !NDJSON_FORMATS.has(format)) throw new FhirError(400, 'not-supported', `_outputFormat ${format} is not supported`);
    const sinceText = values(query, '_since')[0];
    const since = sinceText === undefined ? -Infinity : instantRange(sinceText, '_since').start;
    const asked = values(query, '_type').flatMap((v) => v.split(',')).filter(Boolean);
    for (const t of asked) if (!/^[A-Z][A-Za-z]{1,63}$/.test(t)) throw new FhirError(400, 'invalid', `_type: "${t}" is not a resource type`);
    const types = (asked.length > 0 ? [...new Set(asked)] : ctx.store.types()).filter((t) => level === 'system' || PATIENT_COMPARTMENT.has(t));

    const files: ExportFile[] = [];
    for (const type of types) {
      const sorted = members === undefined
        ? ctx.store.sorted(type)
        : type === 'Patient'
          ? ctx.store.rowsById(type, members.map((m) => m.slice('Patient/'.length)))
          : ctx.store.rowsByRef(type, members);
      const rows = sorted.slice(lowerBound(sorted, 0, sorted.length, (r) => r.ms >= since));
      for (let k = 0; k * ctx.fileLines < rows.length; k++) {
        files.push({ type, name: `${type}-${k + 1}.ndjson`, rows: rows.slice(k * ctx.fileLines, (k + 1) * ctx.fileLines) });
      }
    }
    const id = randomUUID();
    jobs.set(id, { request: `${ctx.baseUrl().replace(/\/fhir$/, '')}${req.url}`, transactionTime: ctx.now().toISOString(), files, pollsLeft: ctx.polls });
    reply.header('content-location', `${ctx.baseUrl()}/$export-status/${id}`);
    return sendFhir(reply, 202, operationOutcome('informational', 'export started', 'information'));
  };

  app.get('/fhir/$export', kickOff('system'));
  app.get('/fhir/Patient/$export', kickOff('patient'));
  app.get<{ Params: { id: string } }>('/fhir/Group/:id/$export', async (req, reply) => {
    const row = ctx.store.row('Group', req.params.id);
    if (row === undefined || row === 'gone') throw new FhirError(404, 'not-found', `Group/${req.params.id} is not known`);
    const group = ctx.store.resource('Group', row) as { member?: readonly { entity?: { reference?: unknown } }[] };
    const members = (group.member ?? []).map((m) => m.entity?.reference).filter((r): r is string => typeof r === 'string' && r.startsWith('Patient/'));
    return kickOff('group', members)(req, reply);
  });

  app.get<{ Params: { id: string } }>('/fhir/$export-status/:id', async (req, reply) => {
    const { id } = req.params;
    const job = jobs.get(id);
    if (job === undefined) throw new FhirError(404, 'not-found', 'no such export (deleted, or never started)');
    if (job.pollsLeft > 0) {
      const done = ctx.polls - job.pollsLeft;
      job.pollsLeft--;
      return reply.code(202).header('retry-after', String(ctx.retryAfterS)).header('x-progress', `in progress (${done}/${ctx.polls})`).send();
    }
    const manifest = {
      transactionTime: job.transactionTime,
      request: job.request,
      requiresAccessToken: ctx.requiresAccessToken,
      output: job.files.map((f) => ({ type: f.type, url: `${ctx.baseUrl()}/$export-file/${id}/${f.name}`, count: f.rows.length })),
      error: [],
    };
    return reply.code(200).type('application/json').send(JSON.stringify(manifest));
  });

  app.delete<{ Params: { id: string } }>('/fhir/$export-status/:id', async (req, reply) => {
    if (!jobs.delete(req.params.id)) throw new FhirError(404, 'not-found', 'no such export');
    return sendFhir(reply, 202, operationOutcome('informational', 'export deleted', 'information'));
  });

  app.get<{ Params: { id: string; name: string } }>('/fhir/$export-file/:id/:name', async (req, reply) => {
    const file = jobs.get(req.params.id)?.files.find((f) => f.name === req.params.name);
    if (file === undefined) throw new FhirError(404, 'not-found', 'no such export file');
    const stream = Readable.from(ndjson(ctx.store, file, ctx.malformedOf(req)), { objectMode: false });
    return reply.code(200).type('application/fhir+ndjson').send(stream);
  });
}

/** The lines of one file, in chunks of about 64 kB; a malformed fault spoils line 2 (line 1 when there is one). */
function* ndjson(store: ResourceStore, file: ExportFile, spoil: 'json' | 'resource' | undefined): Generator<string> {
  const victim = spoil === undefined ? -1 : Math.min(1, file.rows.length - 1);
  let chunk = '';
  for (let i = 0; i < file.rows.length; i++) {
    const line = JSON.stringify(store.resource(file.type, file.rows[i]!));
    chunk += (i === victim ? spoilLine(line, spoil!) : line) + '\n';
    if (chunk.length >= CHUNK_CHARS) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk !== '') yield chunk;
}

