import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { fhirToSnapshot, isRejected } from '../../../connectors/fhir/to-snapshot';
import { bundledMapping } from '../mappings';
import { httpGet, requestToken } from './http';
import { GARBAGE_RESOURCE, startFhirTestServer, type FhirTestServer, type FhirTestServerOptions } from './index';

/** Bulk Data $export: kick-off → status → manifest → NDJSON. */

interface Manifest {
  transactionTime: string;
  request: string;
  requiresAccessToken: boolean;
  output: { type: string; url: string; count: number }[];
  error: unknown[];
}

describe('FHIR test server: $export', () => {
  let server: FhirTestServer | undefined;
  const start = async (options: FhirTestServerOptions = {}): Promise<FhirTestServer> => (server = await startFhirTestServer({ exportRetryAfterS: 0, ...options }));
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  /** Kick-off, then poll until the manifest; returns the manifest and how many 202s came first. */
  async function runExport(s: FhirTestServer, query: string, headers: Record<string, string> = {}): Promise<{ manifest: Manifest; polls: number }> {
    const kick = await httpGet(`${s.baseUrl}/${query}`, { prefer: 'respond-async', accept: 'application/fhir+json', ...headers });
    expect(kick.status).toBe(202);
    const status = kick.headers.get('content-location')!;
    expect(status).toMatch(new RegExp(`^${s.baseUrl.replace(/[.$]/g, '\\$&')}/`));
    for (let polls = 0; polls < 10; polls++) {
      const r = await httpGet(status, headers);
      if (r.status === 200) {
        expect(r.headers.get('content-type')).toMatch(/^application\/json/);
        return { manifest: r.json<Manifest>(), polls };
      }
      expect([r.status, r.headers.get('retry-after'), r.headers.get('x-progress')]).toEqual([202, '0', expect.stringMatching(/progress/)]);
    }
    throw new Error('export never finished');
  }

  const lines = async (url: string, headers: Record<string, string> = {}): Promise<string[]> => {
    const r = await httpGet(url, headers);
    expect([r.status, r.headers.get('content-type')]).toEqual([200, 'application/fhir+ndjson']);
    return r.text.split('\n').filter((l) => l !== '');
  };

  test('with auth: the token is needed at every step; NDJSON line counts equal the resources', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES384', { extractable: true });
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1' };
    const s = await start({ auth: { clientId: 'c1', jwks: { keys: [jwk] } } });
    s.addFamilies({ guardians: 30 });
    expect(s.count('RelatedPerson')).toBe(60);
    s.loadPublicFixtures(); // other types too: only Patient and RelatedPerson are asked for
    const jwt = await new SignJWT({}).setProtectedHeader({ alg: 'ES384', kid: 'k1' }).setIssuer('c1').setSubject('c1').setAudience(s.tokenUrl).setJti(randomUUID()).setExpirationTime('5m').sign(privateKey);
    const auth = { authorization: `Bearer ${(await requestToken(s.tokenUrl, jwt)).json<{ access_token: string }>().access_token}` };

    expect((await httpGet(`${s.baseUrl}/$export`, { prefer: 'respond-async' })).status).toBe(401);
    expect((await httpGet(`${s.baseUrl}/$export`, auth)).status).toBe(400); // no Prefer: respond-async
    const { manifest, polls } = await runExport(s, '$export?_type=Patient,RelatedPerson', auth);
    expect(polls).toBe(2);
    expect(manifest).toMatchObject({ requiresAccessToken: true, error: [], request: `${s.baseUrl}/$export?_type=Patient,RelatedPerson` });
    expect(manifest.output.map((o) => [o.type, o.count])).toEqual([
      ['Patient', s.count('Patient')],
      ['RelatedPerson', s.count('RelatedPerson')],
    ]);
    expect((await httpGet(manifest.output[0]!.url)).status).toBe(401);
    for (const o of manifest.output) {
      const got = await lines(o.url, auth);
      expect(got).toHaveLength(s.count(o.type));
      expect(new Set(got.map((l) => (JSON.parse(l) as { resourceType: string }).resourceType))).toEqual(new Set([o.type]));
    }
  });

  test('the files are a snapshot at kick-off; _since keeps later changes; DELETE cancels', async () => {
    let clock = new Date('2026-01-10T09:00:00.000Z');
    const s = await start({ exportPolls: 0, now: () => clock });
    s.addFamilies({ guardians: 3 });
    clock = new Date('2026-01-11T09:00:00.000Z');
    s.put({ ...s.get('RelatedPerson', 'RP3-2')!, active: false });

    const kick = await httpGet(`${s.baseUrl}/Patient/$export?_since=2026-01-11T00:00:00Z`, { prefer: 'respond-async' });
    s.put({ ...s.get('RelatedPerson', 'RP1-1')!, active: false }); // after kick-off: not in this export
    const status = kick.headers.get('content-location')!;
    const manifest = (await httpGet(status)).json<Manifest>();
    expect(manifest.transactionTime).toBe('2026-01-11T09:00:00.000Z');
    expect(manifest.output.map((o) => [o.type, o.count])).toEqual([['RelatedPerson', 1]]);
    expect((await lines(manifest.output[0]!.url)).map((l) => JSON.parse(l) as unknown)).toEqual([expect.objectContaining({ id: 'RP3-2', active: false, meta: { versionId: '2', lastUpdated: '2026-01-11T09:00:00.000Z' } })]);

    expect((await httpGet(status, {}, 'DELETE')).status).toBe(202);
    expect((await httpGet(status)).status).toBe(404);
    expect((await httpGet(manifest.output[0]!.url)).status).toBe(404);
  });

  test("Group/[id]/$export holds the Group's member patients and what refers to them; an unknown Group is 404", async () => {
    const s = await start({ exportPolls: 0 });
    s.addFamilies({ guardians: 3 });
    s.put({ resourceType: 'Group', id: 'practice-a', type: 'person', actual: true, member: [{ entity: { reference: 'Patient/P1-1' } }, { entity: { reference: 'Patient/P3-2' } }] });
    const { manifest } = await runExport(s, 'Group/practice-a/$export?_type=Patient,RelatedPerson');
    expect(manifest.request).toBe(`${s.baseUrl}/Group/practice-a/$export?_type=Patient,RelatedPerson`);
    const ids = async (type: string): Promise<string[]> => (await lines(manifest.output.find((o) => o.type === type)!.url)).map((l) => (JSON.parse(l) as { id: string }).id).sort();
    expect(await ids('Patient')).toEqual(['P1-1', 'P3-2']);
    expect(await ids('RelatedPerson')).toEqual(['RP1-1', 'RP3-2']);
    expect((await httpGet(`${s.baseUrl}/Group/nobody/$export`, { prefer: 'respond-async' })).status).toBe(404);
  });

  test('large types are split over several files', async () => {
    const s = await start({ exportPolls: 0, exportFileLines: 4 });
    s.addFamilies({ guardians: 5 });
    const { manifest } = await runExport(s, '$export?_type=RelatedPerson');
    expect(manifest.output.map((o) => o.count)).toEqual([4, 4, 2]);
    const all = (await Promise.all(manifest.output.map((o) => lines(o.url)))).flat();
    expect(all.map((l) => (JSON.parse(l) as { id: string }).id)).toEqual(['RP1-1', 'RP1-2', 'RP2-1', 'RP2-2', 'RP3-1', 'RP3-2', 'RP4-1', 'RP4-2', 'RP5-1', 'RP5-2']);
  });

  test('a malformed file has one garbage line; the others map', async () => {
    const s = await start({ exportPolls: 0 });
    s.addFamilies({ guardians: 2 });
    const { manifest } = await runExport(s, '$export?_type=RelatedPerson');
    s.fault({ path: /\$export-file\//, malformed: 'resource' });
    const got = await lines(manifest.output[0]!.url);
    expect(got.map((l) => JSON.parse(l) as unknown)[1]).toEqual(GARBAGE_RESOURCE);
    const mapping = bundledMapping('fhir');
    const good = got.filter((l) => (JSON.parse(l) as { resourceType?: string }).resourceType !== undefined);
    expect(good).toHaveLength(3);
    expect(good.flatMap((l) => fhirToSnapshot(l, mapping)).filter(isRejected)).toEqual([]);
  });

  test('faults on status polls: 503 then the manifest', async () => {
    const s = await start({ exportPolls: 0 });
    s.addFamilies({ guardians: 1 });
    s.fault({ path: /\$export-status\//, status: 503, retryAfterS: 0 });
    const kick = await httpGet(`${s.baseUrl}/$export`, { prefer: 'respond-async' });
    const status = kick.headers.get('content-location')!;
    const failed = await httpGet(status);
    expect([failed.status, failed.headers.get('retry-after')]).toEqual([503, '0']);
    expect((await httpGet(status)).json<Manifest>().output.map((o) => o.type)).toEqual(['Patient', 'RelatedPerson']);
  });

  test('bulkExport: false → 404, and metadata does not list it', async () => {
    const s = await start({ bulkExport: false });
    expect((await httpGet(`${s.baseUrl}/$export`, { prefer: 'respond-async' })).status).toBe(404);
    expect((await httpGet(`${s.baseUrl}/metadata`)).json()).not.toHaveProperty('rest.0.operation');
  });
});
