import type { FastifyInstance, FastifyReply } from 'fastify';
import { FhirError, sendFhir } from './outcome';
import { searchBundle, type Query, type SearchContext } from './search';
import type { ResourceStore, Row } from './store';

/** metadata, SMART discovery, search, read and vread. Handlers throw FhirError; the error handler answers it. */

export interface FhirRouteContext extends Omit<SearchContext, 'baseUrl'> {
  readonly baseUrl: () => string;
  readonly tokenUrl: () => string;
  readonly auth: boolean;
  readonly bulkExport: boolean;
  readonly now: () => Date;
}

const TYPE = /^[A-Z][A-Za-z]{1,63}$/;
const BASE_TYPES = ['Appointment', 'Patient', 'RelatedPerson'];

export function fhirRoutes(app: FastifyInstance, ctx: FhirRouteContext): void {
  app.get('/fhir/metadata', async (_req, reply) => sendFhir(reply, 200, capabilityStatement(ctx)));

  // SMART App Launch discovery (the Backend Services client reads token_endpoint here).
  app.get('/fhir/.well-known/smart-configuration', async (_req, reply) =>
    reply.type('application/json').send(
      JSON.stringify({
        token_endpoint: ctx.tokenUrl(),
        grant_types_supported: ['client_credentials'],
        token_endpoint_auth_methods_supported: ['private_key_jwt'],
        token_endpoint_auth_signing_alg_values_supported: ['RS384', 'ES384'],
        scopes_supported: ['system/*.read', 'system/Patient.read', 'system/RelatedPerson.read', 'system/Appointment.read'],
        capabilities: ['client-confidential-asymmetric'],
      }),
    ),
  );

  app.get<{ Params: { type: string } }>('/fhir/:type', async (req, reply) => {
    const { type } = req.params;
    if (!TYPE.test(type)) throw new FhirError(404, 'not-found', `Unknown resource type "${type}"`);
    const lenient = /handling=lenient/i.test(String(req.headers.prefer ?? ''));
    const self = `${ctx.baseUrl().replace(/\/fhir$/, '')}${req.url}`;
    return sendFhir(reply, 200, searchBundle({ ...ctx, baseUrl: ctx.baseUrl() }, type, req.query as Query, self, lenient));
  });

  app.get<{ Params: { type: string; id: string } }>('/fhir/:type/:id', async (req, reply) => {
    const { type, id } = req.params;
    const row = ctx.store.row(type, id);
    if (row === 'gone') throw new FhirError(410, 'deleted', `${type}/${id} was deleted`);
    if (row === undefined) throw new FhirError(404, 'not-found', `${type}/${id} is not known`);
    return sendResource(ctx.store, reply, type, row);
  });

  app.get<{ Params: { type: string; id: string; vid: string } }>('/fhir/:type/:id/_history/:vid', async (req, reply) => {
    const { type, id, vid } = req.params;
    const row = ctx.store.versionRow(type, id, Number(vid));
    if (row === undefined) throw new FhirError(404, 'not-found', `${type}/${id} has no version ${vid}`);
    return sendResource(ctx.store, reply, type, row);
  });
}

function sendResource(store: ResourceStore, reply: FastifyReply, type: string, row: Row): FastifyReply {
  reply.header('etag', `W/"${row.version}"`).header('last-modified', new Date(row.ms).toUTCString());
  return sendFhir(reply, 200, store.resource(type, row));
}

function capabilityStatement(ctx: FhirRouteContext): Record<string, unknown> {
  const types = [...new Set([...BASE_TYPES, ...ctx.store.types()])].sort();
  const security = ctx.auth
    ? {
        service: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'SMART-on-FHIR' }] }],
        extension: [{ url: 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris', extension: [{ url: 'token', valueUri: ctx.tokenUrl() }] }],
      }
    : undefined;
  const searchParam = (type: string) => [
    { name: '_id', type: 'token' },
    { name: '_lastUpdated', type: 'date' },
    ...(type === 'Patient' ? [] : [{ name: 'patient', type: 'reference' }]),
    ...(type === 'Appointment' ? [{ name: 'actor', type: 'reference' }] : []),
  ];
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: ctx.now().toISOString(),
    kind: 'instance',
    ...(ctx.bulkExport ? { instantiates: ['http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data'] } : {}),
    software: { name: 'portal-bridge FHIR test server' },
    implementation: { description: 'portal-bridge FHIR test server', url: ctx.baseUrl() },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json'],
    rest: [
      {
        mode: 'server',
        ...(security === undefined ? {} : { security }),
        resource: types.map((type) => ({
          type,
          interaction: [{ code: 'read' }, { code: 'vread' }, { code: 'search-type' }],
          searchParam: searchParam(type),
          ...(ctx.bulkExport && type === 'Patient' ? { operation: [{ name: 'export', definition: 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export' }] } : {}),
        })),
        ...(ctx.bulkExport ? { operation: [{ name: 'export', definition: 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export' }] } : {}),
      },
    ],
  };
}
