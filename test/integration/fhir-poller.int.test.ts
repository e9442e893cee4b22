import { exportJWK, exportPKCS8, generateKeyPair } from 'jose';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { createFhirHttp, type FhirHttp } from '../../connectors/fhir/fhir-http';
import { createFhirPoller, cursorName, type FhirPollerOptions } from '../../connectors/fhir/poller';
import { createSmartAuth } from '../../connectors/fhir/smart-auth';
import { createLogger, type Logger } from '../../src/log';
import type { Store } from '../../src/store';
import { describeEachDatabase } from '../helpers/db';
import { startFhirTestServer, type FhirTestServer, type FhirTestServerOptions } from '../helpers/fhir-server';
import { bundledMapping } from '../helpers/mappings';
import { startPipeline } from '../helpers/pipeline';

jest.setTimeout(60_000);

const fhirMapping = bundledMapping('fhir');

interface Harness {
  readonly server: FhirTestServer;
  readonly log: Logger;
  readonly logLines: string[];
  http(options?: { auth?: Awaited<ReturnType<typeof createSmartAuth>> }): FhirHttp;
  poller(http: FhirHttp, options?: Partial<FhirPollerOptions>): ReturnType<typeof createFhirPoller>;
}

async function withServer(store: Store, serverOptions: FhirTestServerOptions, fn: (h: Harness) => Promise<void>): Promise<void> {
  const server = await startFhirTestServer(serverOptions);
  const logLines: string[] = [];
  const stream = new PassThrough();
  stream.on('data', (c: Buffer) => logLines.push(...c.toString('utf8').split('\n').filter((l) => l !== '')));
  const log = createLogger({ level: 'debug', stream });
  try {
    await fn({
      server,
      log,
      logLines,
      http: (o = {}) => createFhirHttp({ baseUrl: server.baseUrl, log, retry: { retries: 4, minTimeoutMs: 20, maxTimeoutMs: 2000 }, ...(o.auth !== undefined && { auth: o.auth }) }),
      poller: (http, o = {}) => createFhirPoller({ name: 'ehr', http, store, log, pageSize: 7, ...o }),
    });
  } finally {
    await server.close();
  }
}

async function inboxRows(store: Store): Promise<{ dedupe_key: string; status: string; error_code: string | null; control_id: string | null }[]> {
  return store.knex('inbox').select('dedupe_key', 'status', 'error_code', 'control_id').where({ source: 'ehr' }).orderBy('id');
}

describeEachDatabase('FHIR poller', (db) => {
  test('pages through every type; each resource version stored once; a second poll finds nothing new; a change is found', async () => {
    await db.withStore(async (store) => {
      await withServer(store, {}, async ({ server, http, poller }) => {
        server.addFamilies({ guardians: 6, childrenPer: 2 });
        const p = poller(http());
        const first = await p.pollOnce();
        expect(first.Patient).toMatchObject({ fresh: 12, duplicate: 0, rejected: 0 });
        expect(first.Patient?.pages).toBeGreaterThan(1);
        expect(first.RelatedPerson).toMatchObject({ fresh: 12 });
        expect((await inboxRows(store)).length).toBe(24);
        const again = await p.pollOnce();
        expect(again.Patient?.fresh).toBe(0);
        expect(again.RelatedPerson?.fresh).toBe(0);
        const changed = server.get('Patient', 'P3-1');
        server.put({ ...changed!, birthDate: '2019-02-03' });
        const third = await p.pollOnce();
        expect(third.Patient?.fresh).toBe(1);
        const rows = await inboxRows(store);
        expect(rows.filter((r) => r.control_id === 'Patient/P3-1').map((r) => r.dedupe_key)).toEqual(['Patient/P3-1/_history/1', 'Patient/P3-1/_history/2']);
        expect(JSON.parse((await store.cursors.getCursor(cursorName('ehr', 'Patient')))!)).toEqual({ since: expect.stringMatching(/^\d{4}-/) });
      });
    });
  });

  test('a change stamped with the same instant as the cursor is not missed (overlap window)', async () => {
    await db.withStore(async (store) => {
      const at = new Date('2026-11-23T10:00:00.000Z');
      await withServer(store, { now: () => at }, async ({ server, http, poller }) => {
        server.addFamilies({ guardians: 2 });
        const p = poller(http(), { overlapMs: 1000 });
        await p.pollOnce();
        server.addFamilies({ guardians: 1, startIndex: 50 });
        const next = await p.pollOnce();
        expect(next.Patient?.fresh).toBe(2);
        expect(next.Patient?.duplicate).toBeGreaterThan(0);
      });
    });
  });

  test('restart in the middle of paging: resumes at the stored next page; nothing skipped, nothing twice', async () => {
    await db.withStore(async (store) => {
      await withServer(store, {}, async ({ server, http, poller }) => {
        server.addFamilies({ guardians: 10, childrenPer: 2 });
        server.fault({ path: /Patient\?.*_cursor=/, status: 400, times: 1 });
        await expect(poller(http(), { resourceTypes: ['Patient'] }).pollOnce()).rejects.toMatchObject({ code: 'ERR_FHIR_REQUEST' });
        const midway = JSON.parse((await store.cursors.getCursor(cursorName('ehr', 'Patient')))!) as { next?: string; since?: string };
        expect(midway.next).toMatch(/_cursor=/);
        expect(midway.since).toBeUndefined();
        expect((await inboxRows(store)).length).toBe(7);
        // A new process: a new poller on the same store.
        const report = await poller(http(), { resourceTypes: ['Patient'] }).pollOnce();
        expect(report.Patient).toMatchObject({ fresh: 13, duplicate: 0 });
        const rows = await inboxRows(store);
        expect(new Set(rows.map((r) => r.control_id)).size).toBe(20);
        expect(rows.length).toBe(20);
      });
    });
  });

  test('429 with Retry-After and 503 are retried politely; a malformed resource is stored as rejected and the page goes on', async () => {
    await db.withStore(async (store) => {
      await withServer(store, {}, async ({ server, http, poller }) => {
        server.addFamilies({ guardians: 3 });
        server.fault({ path: /^\/fhir\/Patient/, status: 429, retryAfterS: 1, times: 1 });
        server.fault({ path: /^\/fhir\/RelatedPerson/, status: 503, times: 2 });
        server.fault({ path: /^\/fhir\/Appointment/, malformed: 'resource', times: 1 });
        server.put({ resourceType: 'Appointment', id: 'A1', status: 'booked', participant: [{ actor: { reference: 'Patient/P1-1' }, status: 'accepted' }] });
        server.put({ resourceType: 'Appointment', id: 'A2', status: 'booked', participant: [{ actor: { reference: 'Patient/P1-2' }, status: 'accepted' }] });
        server.put({ resourceType: 'Appointment', id: 'A3', status: 'booked', participant: [{ actor: { reference: 'Patient/P2-1' }, status: 'accepted' }] });
        const started = Date.now();
        const report = await poller(http()).pollOnce();
        expect(Date.now() - started).toBeGreaterThanOrEqual(900);
        expect(report.Patient?.fresh).toBe(6);
        expect(report.RelatedPerson?.fresh).toBe(6);
        expect(report.Appointment).toMatchObject({ rejected: 1 });
        const rejected = (await inboxRows(store)).filter((r) => r.status === 'rejected');
        expect(rejected).toEqual([expect.objectContaining({ error_code: 'ERR_FHIR_UNPARSEABLE' })]);
        const statuses = server.requests().map((r) => r.path);
        expect(statuses.filter((p) => p === '/fhir/RelatedPerson').length).toBe(3);
      });
    });
  });

  test('SMART backend auth: a token for many requests; an expired token is refreshed once', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pb-smart-'));
    try {
      const { publicKey, privateKey } = await generateKeyPair('ES384', { extractable: true });
      const keyFile = path.join(dir, 'key.pem');
      writeFileSync(keyFile, await exportPKCS8(privateKey), { mode: 0o600 });
      const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES384', use: 'sig' };
      await db.withStore(async (store) => {
        await withServer(store, { auth: { clientId: 'portal-bridge', jwks: { keys: [jwk] } } }, async ({ server, http, poller, log }) => {
          server.addFamilies({ guardians: 4 });
          const auth = await createSmartAuth({ tokenUrl: server.tokenUrl, clientId: 'portal-bridge', scope: 'system/Patient.rs', privateKeyFile: keyFile, alg: 'ES384', kid: 'k1', log });
          const p = poller(http({ auth }));
          await p.pollOnce();
          expect(server.tokensIssued).toBe(1);
          server.expireTokens();
          server.put({ ...server.get('Patient', 'P1-1')!, gender: 'female' });
          expect((await p.pollOnce()).Patient?.fresh).toBe(1);
          expect(server.tokensIssued).toBe(2);
          // Exactly one request went out with the expired token (answered 401), then the same one with the new token.
          expect(server.requests().filter((r) => r.path.startsWith('/fhir/') && !r.authorized)).toHaveLength(1);
        });
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('servers that search RelatedPerson only per patient: fetched after each Patient page', async () => {
    await db.withStore(async (store) => {
      await withServer(store, { relatedPersonSearch: 'per-patient' }, async ({ server, http, poller }) => {
        server.addFamilies({ guardians: 3 });
        const report = await poller(http(), { relatedPersonSearch: 'per-patient' }).pollOnce();
        expect(report.RelatedPerson).toBeUndefined();
        expect(report.Patient?.fresh).toBe(12);
        expect((await inboxRows(store)).filter((r) => r.control_id?.startsWith('RelatedPerson/')).length).toBe(6);
      });
    });
  });

  test('a guardian who is a different RelatedPerson per child (same email and name) ends with one account, both children linked', async () => {
    await db.withStore(async (store) => {
      const pipeline = await startPipeline(store, { mapping: fhirMapping, start: new Date('2026-11-23T12:00:00Z') });
      try {
        await withServer(store, {}, async ({ server, http, poller }) => {
          server.addFamilies({ guardians: 3, childrenPer: 2, contactIds: false });
          await poller(http()).pollOnce();
          await pipeline.drain();
          const accounts = await store.ledger.listAccounts({ limit: 10 });
          expect(accounts).toHaveLength(3);
          const outbox = await pipeline.control.outbox();
          expect(outbox).toHaveLength(3);
          for (const account of accounts) expect(await store.ledger.listLinks(account.guardianKey)).toHaveLength(2);
        });
      } finally {
        await pipeline.close();
      }
    });
  });

  test('every public FHIR sample the server holds is polled and stored; the ingest worker maps them without a crash', async () => {
    await db.withStore(async (store) => {
      const pipeline = await startPipeline(store, { mapping: fhirMapping, start: new Date('2026-11-23T12:00:00Z') });
      try {
        await withServer(store, {}, async ({ server, http, poller }) => {
          const loaded = server.loadPublicFixtures();
          expect(loaded).toBeGreaterThan(20);
          const report = await poller(http(), { pageSize: 50 }).pollOnce();
          const polled = Object.values(report).reduce((n, r) => n + r.fresh + r.rejected, 0);
          expect(polled).toBe(server.count('Patient') + server.count('RelatedPerson') + server.count('Appointment'));
          await pipeline.drain();
          const left = await store.knex('inbox').where({ status: 'received' }).count({ n: '*' });
          expect(Number((left[0] as { n: unknown }).n)).toBe(0);
          expect(await store.jobs.listFailed({ limit: 5 })).toEqual([]);
        });
      } finally {
        await pipeline.close();
      }
    });
  });
});
