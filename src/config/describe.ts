/**
 * Config for people: one line per problem for the CLI, and the effective config with secrets masked
 * (`portal-bridge start --print-config`).
 */
import { stringify } from 'yaml';
import { connectorSecretVariable } from '../../connectors/fhir/config';
import type { ConfigProblem } from './layers';
import type { Config } from './schema';

/** `file:line:column: at: message`, `env VARIABLE: at: message` or `flag name: at: message`. */
export function formatConfigProblem(p: ConfigProblem): string {
  const where =
    p.source === 'env'
      ? `env ${p.variable ?? '?'}`
      : p.source === 'flag'
        ? `flag ${p.flag ?? '?'}`
        : p.file === undefined
          ? 'config'
          : p.line === undefined
            ? p.file
            : `${p.file}:${p.line}:${p.column ?? 1}`;
  const at = p.at === '' || p.at === p.flag ? '' : `${p.at}: `;
  return `${where}: ${at}${p.message}`;
}

/** Every problem, one line each, in the order given. */
export function formatConfigProblems(problems: readonly ConfigProblem[]): string {
  return problems.map(formatConfigProblem).join('\n');
}

/** Things that are valid but deserve a look before production, one sentence each. */
export function configWarnings(config: Config): string[] {
  const warnings: string[] = [];
  if (config.log.refKeySource === 'derived') {
    warnings.push(
      'log.refKey is not set: the refs in the logs use a key derived from practice.id and the database location, which is not secret; set PORTAL_BRIDGE_LOG_REF_KEY (e.g. `openssl rand -hex 32`) and keep it',
    );
  }
  if (config.practice.id === 'default') {
    warnings.push('practice.id is "default": set it before the first portal call; it is part of every idempotency key and must not change afterwards');
  }
  if (config.portal.kind === 'sandbox') warnings.push(`portal.kind is sandbox: no real portal is called (${config.portal.baseUrl})`);
  return warnings;
}

/** The effective config as plain data with every secret replaced by a note saying where it came from. */
export function maskConfig(config: Config): Record<string, unknown> {
  const secret = (value: string | undefined, variable: string): string => (value === undefined ? '[not set]' : `[secret from ${variable}]`);
  return {
    ...config,
    database: { ...config.database, ...(config.database.url !== undefined && { url: maskUrl(config.database.url) }) },
    portal: { ...config.portal, apiToken: secret(config.portal.apiToken, 'PORTAL_BRIDGE_PORTAL_API_TOKEN') },
    admin: { ...config.admin, token: secret(config.admin.token, 'PORTAL_BRIDGE_ADMIN_TOKEN') },
    connectorSecrets: Object.fromEntries(Object.keys(config.connectorSecrets).map((name) => [name, `[secret from ${connectorSecretVariable(name)}]`])),
    log: { ...config.log, refKey: config.log.refKeySource === 'env' ? '[secret from PORTAL_BRIDGE_LOG_REF_KEY]' : '[derived from practice.id and the database location]' },
  };
}

/** The effective config as YAML, secrets masked, warnings first as comments. */
export function describeConfig(config: Config): string {
  const header = configWarnings(config).map((w) => `# warning: ${w}\n`);
  return header.join('') + stringify(maskConfig(config), { lineWidth: 0 });
}

function maskUrl(url: string): string {
  if (!URL.canParse(url)) return '[unparseable]';
  const u = new URL(url);
  if (u.password !== '') u.password = '***';
  if (u.searchParams.has('password')) u.searchParams.set('password', '***');
  return u.toString();
}
