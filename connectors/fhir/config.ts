/**
 * Config of the FHIR R4 connectors (config file `connectors:` entries; README in this folder). Strict, checked
 * with the rest of the config before anything starts.
 */
import { z } from 'zod';
import { channelName } from '../hl7v2/config';
import { POLLED_TYPES } from './poller';

const httpUrl = z.url({ protocol: /^https?$/, message: 'expected an http(s) URL' });

const smartAuth = z.strictObject({
  kind: z.literal('smart-backend'),
  tokenUrl: httpUrl,
  clientId: z.string().min(1),
  /** PEM (PKCS#8) or JWK file with the private key; the public key is registered with the EHR. */
  privateKeyFile: z.string().min(1),
  alg: z.enum(['RS384', 'ES384']).default('RS384'),
  kid: z.string().min(1).optional(),
  jku: httpUrl.optional(),
  scope: z.string().min(1).default('system/Patient.rs system/RelatedPerson.rs system/Appointment.rs'),
});

/** A FHIR resource id (R4 `id` datatype): what `exportGroup` and `backfill --group` take. */
export const FHIR_ID = /^[A-Za-z0-9.-]{1,64}$/;

export const fhirPollConnectorSchema = z.strictObject({
  kind: z.literal('fhir-poll'),
  name: channelName,
  /** The FHIR R4 base, e.g. https://ehr.example.org/fhir/R4 */
  baseUrl: httpUrl,
  auth: smartAuth.optional(),
  resourceTypes: z.array(z.enum(POLLED_TYPES)).min(1).default([...POLLED_TYPES]),
  /** `per-patient` for servers that search RelatedPerson only with `patient=`. */
  relatedPersonSearch: z.enum(['search', 'per-patient']).default('search'),
  /**
   * The backfill exports this Group (`Group/<id>/$export`: the practice's patients and their compartment) instead
   * of the whole server (`$export`). Epic and Oracle Health give backend apps Group-level export only.
   */
  exportGroup: z.string().regex(FHIR_ID, 'a FHIR id (letters, digits, - and ., at most 64)').optional(),
  /** Time between the end of one poll and the start of the next. */
  intervalMs: z.number().int().min(1000).default(60_000),
  /** Each poll looks again this far before its cursor (equal timestamps, late commits on the server). */
  overlapMs: z.number().int().min(0).max(86_400_000).default(60_000),
  pageSize: z.number().int().min(1).max(1000).default(100),
  timeoutMs: z.number().int().min(1000).max(600_000).default(30_000),
});

export const fhirSubscriptionConnectorSchema = z.strictObject({
  kind: z.literal('fhir-subscription'),
  name: channelName,
  host: z.string().min(1).default('127.0.0.1'),
  port: z.number().int().min(1).max(65_535).default(8090),
  /** Where the EHR posts notifications. */
  path: z.string().regex(/^\/[A-Za-z0-9/_.-]*$/, 'a URL path such as /fhir/notify').default('/fhir/notify'),
  /** The header that carries the shared secret (PORTAL_BRIDGE_CONNECTOR_<NAME>_SECRET in the environment). */
  secretHeader: z.string().regex(/^[A-Za-z0-9-]+$/).default('authorization'),
  /** The fhir-poll connector that reads resources named by id and catches up after a gap. */
  poller: channelName,
  maxBodyBytes: z.number().int().min(1024).max(64 * 1024 * 1024).default(8 * 1024 * 1024),
});

export type FhirPollConnectorConfig = z.output<typeof fhirPollConnectorSchema>;
export type FhirSubscriptionConnectorConfig = z.output<typeof fhirSubscriptionConnectorSchema>;

/** The environment variable holding a connector's secret: `hooks-1` → PORTAL_BRIDGE_CONNECTOR_HOOKS_1_SECRET. */
export function connectorSecretVariable(name: string): string {
  return `PORTAL_BRIDGE_CONNECTOR_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_SECRET`;
}
