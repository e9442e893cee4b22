/**
 * The daemon's configuration schema (STYLE rule 5: one zod schema per file kind; the schema holds the defaults,
 * config/default.yaml repeats them with comments and a test keeps the two equal). Strict objects, so a misspelt
 * key is a problem, not a silently ignored line.
 */
import cron from 'node-cron';
import { z } from 'zod';
import { fhirPollConnectorSchema, fhirSubscriptionConnectorSchema } from '../../connectors/fhir/config';
import { fileDropConnectorSchema, mllpConnectorSchema } from '../../connectors/hl7v2/config';

/** The sandbox portal's address in the CLI's examples (`portal-bridge sandbox-portal --port 8085`). */
export const DEFAULT_SANDBOX_URL = 'http://127.0.0.1:8085';

/**
 * Settings that are read only from the environment (DESIGN §10): a config file or a flag that sets one is a
 * problem that names the variable to use. `database.url` is a half-secret handled apart: files and flags may
 * carry it without a password.
 */
export const SECRET_SETTINGS = [
  { path: ['portal', 'apiToken'], variable: 'PORTAL_BRIDGE_PORTAL_API_TOKEN' },
  { path: ['admin', 'token'], variable: 'PORTAL_BRIDGE_ADMIN_TOKEN' },
  { path: ['log', 'refKey'], variable: 'PORTAL_BRIDGE_LOG_REF_KEY' },
] as const;

const cronExpression = z.string().superRefine((value, ctx) => {
  const result = cron.validateDetailed(value);
  if (result.valid) return;
  const why = result.errors.map((e) => e.message).join('; ');
  ctx.addIssue({ code: 'custom', message: `not a cron expression (${why === '' ? 'minute hour day month weekday' : why})` });
});

const postgresUrl = z.string().refine((value) => /^postgres(ql)?:\/\/./.test(value) && URL.canParse(value), {
  // Never echo the value: it may carry a password.
  message: 'expected a PostgreSQL URL: postgres://user@host:5432/database',
});

const positiveInt = z.number().int().positive();
const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

const practice = z.strictObject({
  /** Part of every idempotency key: set it once per installation, before the first portal call, and keep it. */
  id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'letters, digits, ".", "_" or "-", at most 64 characters').default('default'),
});

const database = z.strictObject({
  /** PostgreSQL; when set, `file` is not used. */
  url: postgresUrl.optional(),
  /** The embedded SQLite database. */
  file: z.string().min(1).default('./data/portal-bridge.db'),
  /** SQLite `PRAGMA synchronous`: FULL survives a power cut; NORMAL (with WAL) may lose the last commits. */
  synchronous: z.enum(['FULL', 'NORMAL']).default('FULL'),
});

const mapping = z.strictObject({
  /** The mapping profile; its policy block decides who gets access. */
  path: z.string().min(1).default('mappings/hl7v2-default.yaml'),
  /** Mappings for the other input formats (at most one per format); their policy blocks must equal path's. */
  others: z.array(z.string().min(1)).max(1).default([]),
});

const portal = z
  .strictObject({
    kind: z.enum(['rest', 'sandbox']).default('sandbox'),
    /** Required for `rest`; for `sandbox`, the sandbox portal's default address. */
    baseUrl: z.url({ protocol: /^https?$/, message: 'expected an http(s) URL' }).optional(),
    timeoutMs: positiveInt.max(600_000).default(10_000),
    apiToken: z.string().min(1).optional(),
  })
  .superRefine((p, ctx) => {
    if (p.kind !== 'rest') return;
    if (p.baseUrl === undefined) ctx.addIssue({ code: 'custom', path: ['kind'], message: 'a rest portal needs portal.baseUrl' });
    if (p.apiToken === undefined) ctx.addIssue({ code: 'custom', path: ['kind'], message: 'a rest portal needs PORTAL_BRIDGE_PORTAL_API_TOKEN in the environment' });
  })
  .transform((p) => ({ ...p, baseUrl: p.baseUrl ?? DEFAULT_SANDBOX_URL }));

const backoff = z
  .strictObject({
    baseMs: positiveInt.default(1000),
    factor: z.number().min(1).max(10).default(2),
    capMs: positiveInt.default(600_000),
  })
  .refine((b) => b.capMs >= b.baseMs, { path: ['capMs'], message: 'capMs must be at least baseMs' });

const jobs = z.strictObject({
  concurrency: positiveInt.max(256).default(4),
  leaseMs: z.number().int().min(1000).default(60_000),
  maxAttempts: positiveInt.max(100).default(8),
  backoff: backoff.prefault({}),
});

const schedules = z.strictObject({
  retrySweep: cronExpression.default('*/1 * * * *'),
  portalChangesPoll: cronExpression.default('*/5 * * * *'),
  dailyReevaluation: cronExpression.default('0 2 * * *'),
  /** Deletes processed inbox rows older than retention.processedInboxDays. */
  retentionPrune: cronExpression.default('30 3 * * *'),
});

const log = z.strictObject({
  level: z.enum(['error', 'warn', 'info', 'debug']).default('info'),
  /** HMAC key of the refs in logs (src/refs.ts). Environment only; load.ts derives one when it is unset. */
  refKey: z.string().min(16, 'at least 16 characters (e.g. `openssl rand -hex 32`)').optional(),
});

const retention = z.strictObject({
  processedInboxDays: positiveInt.default(30),
  failedDays: positiveInt.default(365),
});

const admin = z
  .strictObject({
    host: z.string().min(1).default('127.0.0.1'),
    port: z.number().int().min(0).max(65_535).default(9464),
    token: z.string().min(16, 'at least 16 characters (e.g. `openssl rand -hex 32`)').optional(),
  })
  .refine((a) => LOOPBACK.has(a.host) || a.token !== undefined, {
    path: ['host'],
    message: 'the admin API listens beyond this machine: set PORTAL_BRIDGE_ADMIN_TOKEN in the environment',
  });

const guards = z.strictObject({
  /** Mass-unlink guard: unlinks within `windowMinutes` may not exceed this share of all links (0..1]. */
  massUnlinkShare: z.number().gt(0).max(1).default(0.2),
  /** Below this many links in all the guard never trips (a new practice starts small). */
  minLinks: z.number().int().min(0).default(20),
  /** The window the share is counted over. */
  windowMinutes: z.number().int().min(1).max(10_080).default(60),
});

/** The connector kinds and their options (connectors/<format>/config.ts, README there). */
const CONNECTOR_SCHEMAS = [mllpConnectorSchema, fileDropConnectorSchema, fhirPollConnectorSchema, fhirSubscriptionConnectorSchema] as const;
export const CONNECTOR_KINDS = CONNECTOR_SCHEMAS.map((s) => s.shape.kind.value);
const connector = z.discriminatedUnion('kind', CONNECTOR_SCHEMAS, {
  error: (issue) => (issue.code === 'invalid_union' ? `unknown connector kind: expected one of ${CONNECTOR_KINDS.join(', ')}` : undefined),
});
export type ConnectorConfig = z.output<typeof connector>;
const connectors = z
  .array(connector)
  .default([])
  .superRefine((list, ctx) => {
    const seen = new Set<string>();
    const ports = new Set<string>();
    list.forEach((c, i) => {
      if (seen.has(c.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `another connector is already named "${c.name}"` });
      seen.add(c.name);
      if (c.kind === 'fhir-subscription' && !list.some((p) => p.kind === 'fhir-poll' && p.name === c.poller)) {
        ctx.addIssue({ code: 'custom', path: [i, 'poller'], message: `no fhir-poll connector is named "${c.poller}" (it reads the resources a notification names)` });
      }
      if (c.kind === 'hl7v2-mllp' || c.kind === 'fhir-subscription') {
        const address = `${c.host}:${c.port}`;
        if (ports.has(address)) ctx.addIssue({ code: 'custom', path: [i, 'port'], message: `another connector already listens on ${address}` });
        ports.add(address);
      }
    });
  });

export const ConfigSchema = z.strictObject({
  practice: practice.prefault({}),
  database: database.prefault({}),
  mapping: mapping.prefault({}),
  portal: portal.prefault({}),
  jobs: jobs.prefault({}),
  schedules: schedules.prefault({}),
  log: log.prefault({}),
  retention: retention.prefault({}),
  admin: admin.prefault({}),
  guards: guards.prefault({}),
  connectors,
});

/** What the schema accepts (a merged config file, before defaults). */
export type ConfigInput = z.input<typeof ConfigSchema>;
/** What the schema produces; `log.refKey` may still be missing. */
export type ParsedConfig = z.output<typeof ConfigSchema>;

/** The effective configuration after loadConfig: validated, frozen, the ref key always present. */
export interface Config extends Omit<ParsedConfig, 'log'> {
  readonly log: Omit<ParsedConfig['log'], 'refKey'> & {
    readonly refKey: string;
    /** `env`: PORTAL_BRIDGE_LOG_REF_KEY; `derived`: from the practice id and the database location (not secret). */
    readonly refKeySource: 'env' | 'derived';
  };
  /** Connector secrets by connector name, from PORTAL_BRIDGE_CONNECTOR_<NAME>_SECRET (environment only). */
  readonly connectorSecrets: Readonly<Record<string, string>>;
}
