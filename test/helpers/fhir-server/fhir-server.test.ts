import { readFileSync } from 'node:fs';
import Client from 'fhir-kit-client';
import { fhirToSnapshot, isRejected } from '../../../connectors/fhir/to-snapshot';
import type { Contact, Patient } from '../../../src/core/model';
import { publicFixtures } from '../fixtures';
import { bundledMapping } from '../mappings';
import { httpGet } from './http';
import { GARBAGE_RESOURCE, startFhirTestServer, type FhirTestServer, type FhirTestServerOptions } from './index';

type Bundle = Parameters<Client['nextPage']>[0]['bundle'];
type Entry = { resource: { resourceType: string; id: string; meta: { versionId: string; lastUpdated: string }; [k: string]: unknown } };
type SearchBundle = { total: number; link: { relation: string; url: string }[]; entry?: Entry[] };

const idsOf = (b: SearchBundle): string[] => (b.entry ?? []).map((e) => e.resource.id);
const nextOf = (b: SearchBundle): string | undefined => b.link.find((l) => l.relation === 'next')?.url;

describe('FHIR test server', () => {
  let server: FhirTestServer | undefined;
  const start = async (options: FhirTestServerOptions = {}): Promise<FhirTestServer> => (server = await startFhirTestServer(options));
  const search = async (query: string): Promise<SearchBundle> => {
    const r = await httpGet(`${server!.baseUrl}/${query}`);
    expect([query, r.status]).toEqual([query, 200]);
    return r.json<SearchBundle>();
  };
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  test('binds 127.0.0.1 and serves a CapabilityStatement that lists $export', async () => {
    const s = await start();
    expect(s.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/fhir$/);
    expect(s.tokenUrl).toBe(s.baseUrl.replace(/\/fhir$/, '/auth/token'));
    const cap = (await httpGet(`${s.baseUrl}/metadata`)).json<{ resourceType: string; fhirVersion: string; rest: { operation?: { name: string }[] }[] }>();
    expect(cap).toMatchObject({ resourceType: 'CapabilityStatement', fhirVersion: '4.0.1' });
    expect(cap.rest[0]!.operation).toEqual([expect.objectContaining({ name: 'export' })]);
  });

  test('fhir-kit-client pages through three pages; the last has no next link', async () => {
    const s = await start({ pageSize: 4 });
    s.addFamilies({ guardians: 5 });
    const client = new Client({ baseUrl: s.baseUrl });
    const page1 = (await client.search({ resourceType: 'RelatedPerson', searchParams: { _sort: '_lastUpdated' } })) as Bundle;
    const page2 = (await client.nextPage({ bundle: page1 })) as Bundle;
    const page3 = (await client.nextPage({ bundle: page2 })) as Bundle;
    expect(await client.nextPage({ bundle: page3 })).toBeUndefined();
    const pages = [page1, page2, page3] as unknown as SearchBundle[];
    expect(pages.map((p) => p.total)).toEqual([10, 10, 10]);
    expect(pages.map((p) => idsOf(p).length)).toEqual([4, 4, 2]);
    // One instant for all: ordered by id within it.
    expect(pages.flatMap(idsOf)).toEqual(['RP1-1', 'RP1-2', 'RP2-1', 'RP2-2', 'RP3-1', 'RP3-2', 'RP4-1', 'RP4-2', 'RP5-1', 'RP5-2']);
    expect(s.requests().map((r) => r.path)).toEqual(['/fhir/RelatedPerson', '/fhir/RelatedPerson', '/fhir/RelatedPerson']);
    expect(s.requests()[1]!.query).toMatchObject({ _sort: '_lastUpdated', _cursor: expect.any(String) });
  });

  test('a next link keeps working while resources change: updated ones come again later, deleted ones are skipped', async () => {
    let clock = new Date('2026-01-10T09:00:00.000Z');
    const s = await start({ pageSize: 3, now: () => clock });
    s.addFamilies({ guardians: 3 });
    const page1 = await search('RelatedPerson');
    expect(idsOf(page1)).toEqual(['RP1-1', 'RP1-2', 'RP2-1']);
    clock = new Date('2026-01-10T09:00:05.000Z');
    s.put(s.get('RelatedPerson', 'RP1-1')!);
    expect(s.delete('RelatedPerson', 'RP2-2')).toBe(true);
    const seen = [...idsOf(page1)];
    for (let url = nextOf(page1); url !== undefined; ) {
      const r = await httpGet(url);
      const page = r.json<SearchBundle>();
      seen.push(...idsOf(page));
      url = nextOf(page);
    }
    expect(seen).toEqual(['RP1-1', 'RP1-2', 'RP2-1', 'RP3-1', 'RP3-2', 'RP1-1']);
    expect((await httpGet(`${s.baseUrl}/RelatedPerson/RP2-2`)).status).toBe(410);
    expect((await httpGet(`${s.baseUrl}/RelatedPerson/RP1-1`)).json()).toMatchObject({ meta: { versionId: '2', lastUpdated: '2026-01-10T09:00:05.000Z' } });
    expect((await httpGet(`${s.baseUrl}/RelatedPerson/RP1-1/_history/1`)).json()).toMatchObject({ meta: { versionId: '1' } });
    expect((await httpGet(`${s.baseUrl}/RelatedPerson/nope`)).status).toBe(404);
  });

  test('_lastUpdated gt / ge / lt / le / eq follow the moving clock, at the precision given', async () => {
    let clock = new Date('2026-01-10T09:00:00.000Z');
    const s = await start({ now: () => clock });
    s.addFamilies({ guardians: 2 });
    clock = new Date('2026-01-10T09:00:00.001Z');
    const rp = s.get('RelatedPerson', 'RP2-1')!;
    (rp.telecom as { value: string }[])[0]!.value = 'guardian2.new@example.org';
    expect(s.put(rp).meta).toEqual({ versionId: '2', lastUpdated: '2026-01-10T09:00:00.001Z' });
    const ids = async (q: string) => idsOf(await search(`RelatedPerson?${q}`));
    expect(await ids('_lastUpdated=gt2026-01-10T09:00:00.000Z')).toEqual(['RP2-1']);
    expect(await ids('_lastUpdated=ge2026-01-10T09:00:00.000Z')).toEqual(['RP1-1', 'RP1-2', 'RP2-2', 'RP2-1']);
    expect(await ids('_lastUpdated=lt2026-01-10T09:00:00.001Z')).toEqual(['RP1-1', 'RP1-2', 'RP2-2']);
    expect(await ids('_lastUpdated=le2026-01-10T09:00:00.001Z')).toHaveLength(4);
    expect(await ids('_lastUpdated=2026-01-10T09:00:00.001Z')).toEqual(['RP2-1']);
    expect(await ids(`_lastUpdated=${encodeURIComponent('gt2026-01-10T10:00:00.000+01:00')}`)).toEqual(['RP2-1']);
    expect(await ids('_lastUpdated=gt2026-01-10T09:00:00Z')).toEqual([]); // second precision: the whole second
    expect(await ids('_lastUpdated=gt2026-01-09&_lastUpdated=lt2026-01-10T09:00:00.001Z')).toHaveLength(3);
    expect((await httpGet(`${s.baseUrl}/RelatedPerson?_lastUpdated=gtyesterday`)).status).toBe(400);
  });

  test('patient / actor / _id searches; per-patient mode refuses a RelatedPerson search without patient', async () => {
    const s = await start({ relatedPersonSearch: 'per-patient' });
    s.addFamilies({ guardians: 2 });
    s.loadPublicFixtures();
    const refused = await httpGet(`${s.baseUrl}/RelatedPerson`);
    expect(refused.status).toBe(400);
    expect(refused.json()).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'required' }] });
    expect(idsOf(await search('RelatedPerson?patient=P1-2'))).toEqual(['RP1-2']);
    expect(idsOf(await search('RelatedPerson?patient=Patient/P1-2'))).toEqual(['RP1-2']);
    expect(idsOf(await search('RelatedPerson?_id=RP2-1,RP2-2'))).toEqual(['RP2-1', 'RP2-2']);
    expect(idsOf(await search('Patient?_id=P2-1'))).toEqual(['P2-1']);
    if (publicFixtures('fhir') !== undefined) {
      expect(idsOf(await search('Appointment?patient=example')).sort()).toEqual(['2docs', 'example', 'examplereq']);
      expect(idsOf(await search('Appointment?actor=Practitioner/f202'))).toEqual(['2docs']);
      expect(idsOf(await search('Appointment?actor=f202'))).toEqual(['2docs']);
    }
    const unknown = await httpGet(`${s.baseUrl}/Patient?name=smith`);
    expect(unknown.status).toBe(400);
    expect((await httpGet(`${s.baseUrl}/Patient?name=smith`, { prefer: 'handling=lenient' })).status).toBe(200);
  });

  test('_count overrides the page size up to the maximum; _count=0 gives the total only', async () => {
    const s = await start({ pageSize: 2, maxPageSize: 5 });
    s.addFamilies({ guardians: 4 });
    expect(idsOf(await search('Patient?_count=3'))).toHaveLength(3);
    expect(idsOf(await search('Patient?_count=100'))).toHaveLength(5);
    const none = await search('Patient?_count=0');
    expect([none.total, none.entry ?? [], nextOf(none)]).toEqual([8, [], undefined]);
  });

  describe('faults', () => {
    test('429 with Retry-After, then 5xx twice, then the request succeeds', async () => {
      const s = await start();
      s.fault({ path: '/fhir/Patient', status: 429, retryAfterS: 3 });
      s.fault({ path: /^\/fhir\/Patient/, status: 503, times: 2 });
      const r1 = await httpGet(`${s.baseUrl}/Patient?_count=1`);
      expect([r1.status, r1.headers.get('retry-after')]).toEqual([429, '3']);
      expect(r1.json()).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'throttled' }] });
      expect((await httpGet(`${s.baseUrl}/Patient`)).status).toBe(503);
      expect((await httpGet(`${s.baseUrl}/Patient`)).status).toBe(503);
      expect((await httpGet(`${s.baseUrl}/Patient`)).status).toBe(200);
    });

    test('fhir-kit-client sees the 429 as a plain object; Retry-After is in error.config.headers (the response headers)', async () => {
      const s = await start();
      s.fault({ status: 429 });
      const client = new Client({ baseUrl: s.baseUrl });
      const e = (await client.search({ resourceType: 'Patient' }).catch((x: unknown) => x)) as { response: { status: number }; config: { headers: Headers } };
      expect(e).not.toBeInstanceOf(Error);
      expect(e.response.status).toBe(429);
      expect(e.config.headers.get('retry-after')).toBe('1');
    });

    test('a slow response takes at least delayMs', async () => {
      const s = await start();
      s.fault({ path: '/fhir/metadata', delayMs: 150 });
      const t0 = performance.now();
      expect((await httpGet(`${s.baseUrl}/metadata`)).status).toBe(200);
      expect(performance.now() - t0).toBeGreaterThanOrEqual(145);
    });

    test('malformed json: the second page is cut in half', async () => {
      const s = await start({ pageSize: 2 });
      s.addFamilies({ guardians: 2 });
      s.fault({ path: /_cursor=/, malformed: 'json' });
      const page1 = await search('RelatedPerson');
      const page2 = await httpGet(nextOf(page1)!);
      expect(page2.status).toBe(200);
      expect(() => page2.json()).toThrow(SyntaxError);
      expect((await httpGet(nextOf(page1)!)).json<SearchBundle>().entry).toHaveLength(2);
    });

    test('malformed resource: one entry is garbage, the others map', async () => {
      const s = await start();
      s.addFamilies({ guardians: 2 });
      s.fault({ path: '/fhir/RelatedPerson', malformed: 'resource' });
      const page = await search('RelatedPerson');
      expect(page.entry!.map((e) => e.resource)).toContainEqual(GARBAGE_RESOURCE);
      const out = fhirToSnapshot(page, bundledMapping('fhir'));
      expect(out.filter(isRejected).map((t) => [t.controlId, t.error.code])).toEqual([['entry[2]', 'ERR_FHIR_UNPARSEABLE']]);
      expect(out.filter((t) => !isRejected(t))).toHaveLength(3);
    });
  });

  (publicFixtures('fhir') === undefined ? test.skip : test)('loads every resource of the public fixtures, Bundles unpacked', async () => {
    const s = await start();
    let expected = 0;
    for (const file of publicFixtures('fhir')!.files.filter((f) => f.endsWith('.json'))) {
      const json = JSON.parse(readFileSync(file, 'utf8').replace(/^\uFEFF/, '')) as { resourceType: string; entry?: unknown[] };
      expected += json.resourceType === 'Bundle' ? (json.entry ?? []).length : 1;
    }
    expect(s.loadPublicFixtures()).toBe(expected);
    expect(s.count('Patient')).toBeGreaterThanOrEqual(20);
    expect(s.get('RelatedPerson', 'newborn-mom')).toMatchObject({ patient: { reference: 'Patient/newborn' }, meta: { versionId: '1' } });
  });

  test('generated families map through fhirToSnapshot: one contact per RelatedPerson, on the right child', async () => {
    const s = await start({ pageSize: 100 });
    expect(s.addFamilies({ guardians: 3, childrenPer: 2 })).toEqual({ patients: 6, relatedPersons: 6 });
    expect(s.addFamilies({ guardians: 1, startIndex: 4, childrenPer: 1, contactIds: false })).toEqual({ patients: 1, relatedPersons: 1 });
    const mapping = bundledMapping('fhir');
    const translate = async (type: string) =>
      fhirToSnapshot(await search(type), mapping).map((t) => {
        if (isRejected(t)) throw t.error;
        return t;
      });

    const contacts = (await translate('RelatedPerson')).flatMap((t) => t.ops.flatMap((op) => (op.kind === 'upsert-contacts' ? op.contacts.map((c) => [op.patientId, c] as const) : [])));
    expect(contacts).toHaveLength(7);
    for (const [patientId, c] of contacts) {
      const g = Number(/^P(\d+)-/.exec(patientId)![1]);
      expect(c).toMatchObject<Partial<Contact>>({
        patientId,
        name: { given: 'Testparent', family: `Testfamily${g}` },
        relationship: g % 2 === 1 ? 'mother' : 'father',
        authority: 'joint',
        email: `guardian${g}@example.org`,
        cellPhone: `+120255501${String(g).padStart(2, '0')}`,
        rowKey: `RelatedPerson/RP${patientId.slice(1)}`,
      });
      expect(c.contactId).toBe(g === 4 ? undefined : `G${g}`);
    }
    expect(contacts.map(([p]) => p)).toEqual(['P1-1', 'P1-2', 'P2-1', 'P2-2', 'P3-1', 'P3-2', 'P4-1']);

    const patients = (await translate('Patient')).flatMap((t) => t.ops.flatMap((op) => (op.kind === 'upsert-patient' ? [op.patient] : [])));
    expect(patients.map((p) => p.id)).toEqual(['P1-1', 'P1-2', 'P2-1', 'P2-2', 'P3-1', 'P3-2', 'P4-1']);
    for (const p of patients) {
      expect(p).toMatchObject<Partial<Patient>>({ mrn: p.id, active: true, deceased: false });
      expect(p.birthDate! >= '2015-01-01' && p.birthDate! <= '2020-12-31').toBe(true);
    }
  });

  test('coParents: a second guardian per family, one more RelatedPerson per child', async () => {
    const s = await start();
    expect(s.addFamilies({ guardians: 1, startIndex: 5, childrenPer: 2, coParents: true })).toEqual({ patients: 2, relatedPersons: 4 });
    const out = fhirToSnapshot(await search('RelatedPerson?patient=P5-2'), bundledMapping('fhir'));
    const contacts = out.flatMap((t) => (isRejected(t) ? [] : t.ops.flatMap((op) => (op.kind === 'upsert-contacts' ? op.contacts : []))));
    expect(contacts.map((c) => [c.rowKey, c.contactId, c.name.given, c.relationship, c.email])).toEqual([
      ['RelatedPerson/RP5-2', 'G5', 'Testparent', 'mother', 'guardian5@example.org'],
      ['RelatedPerson/RP5-2b', 'G5b', 'Testcoparent', 'father', 'guardian5b@example.org'],
    ]);
    expect(new Set(contacts.map((c) => c.cellPhone)).size).toBe(2);
  });
});
