/**
 * Starts the connectors declared in the config file (`connectors:`), by kind. The daemon (src/daemon.ts) calls
 * this after the store is open and stops them first on shutdown, so no input is taken that cannot be stored.
 * A connector that cannot start stops start-up with a message naming it: ERR_CONFIG_INVALID when the config is
 * at fault (an unreadable certificate or key, no mapping of its format), ERR_CONNECTOR_START otherwise (a port in
 * use).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { ConnectorConfig } from '../src/config/schema';
import type { Mapping } from '../src/core/mapping/types';
import { BridgeError, isBridgeError } from '../src/errors';
import type { Mappings } from '../src/ingest/translate-input';
import type { Logger } from '../src/log';
import type { Store } from '../src/store';
import type { FileDropConnectorConfig, MllpConnectorConfig } from './hl7v2/config';
import { startFileDrop } from './hl7v2/file-drop';
import { startMllpListener } from './hl7v2/mllp-listener';
import { startFhirPollConnector, type FhirPollConnector } from './fhir/poll-connector';
import { startSubscriptionReceiver } from './fhir/subscription';

export interface ConnectorDeps {
  readonly store: Store;
  readonly mappings: Mappings;
  readonly log: Logger;
  readonly now: () => Date;
  /** Called when a connector stored new input (the daemon wakes its ingest loop). */
  readonly onStored: () => void;
  /** Connector secrets by name (config.connectorSecrets). */
  readonly secrets: Readonly<Record<string, string>>;
}

/** A started connector. */
export interface RunningConnector {
  readonly name: string;
  readonly kind: ConnectorConfig['kind'];
  /** Where it takes input, for the start-up log line: `127.0.0.1:2575`, a folder. */
  readonly address: string;
  /** Stops taking input; what was already taken is stored (and answered) first. */
  close(): Promise<void>;
}

/** Starts every connector in order; if one fails, the ones already started are closed and the error is thrown. */
export async function startConnectors(list: readonly ConnectorConfig[], deps: ConnectorDeps): Promise<RunningConnector[]> {
  const started: RunningConnector[] = [];
  const pollers = new Map<string, FhirPollConnector>();
  try {
    // Pollers first: a subscription receiver reads resources and catches up through its poller.
    const ordered = [...list.filter((c) => c.kind === 'fhir-poll'), ...list.filter((c) => c.kind !== 'fhir-poll')];
    for (const config of ordered) started.push(await startConnector(config, deps, pollers));
    return started;
  } catch (e) {
    await Promise.allSettled(started.map((c) => c.close()));
    throw e;
  }
}

async function startConnector(config: ConnectorConfig, deps: ConnectorDeps, pollers: Map<string, FhirPollConnector>): Promise<RunningConnector> {
  switch (config.kind) {
    case 'hl7v2-mllp':
      return startMllp(config, deps);
    case 'hl7v2-file':
      return startFiles(config, deps);
    case 'fhir-poll': {
      fhirMapping(config, deps);
      const poller = await startFhirPollConnector(config, deps).catch((e: unknown) => {
        throw isBridgeError(e) && !e.message.startsWith('connector ') ? new BridgeError(e.code, `connector ${config.name}: ${e.message}`, { cause: e }) : e;
      });
      pollers.set(config.name, poller);
      return { name: config.name, kind: config.kind, address: config.baseUrl, close: () => poller.close() };
    }
    case 'fhir-subscription': {
      fhirMapping(config, deps);
      const poller = pollers.get(config.poller);
      const secret = deps.secrets[config.name];
      if (poller === undefined || secret === undefined) throw new BridgeError('ERR_CONFIG_INVALID', `connector ${config.name}: its poller or its secret is missing`);
      try {
        const receiver = await startSubscriptionReceiver({ config, secret, poller, store: deps.store, log: deps.log, now: deps.now, onStored: deps.onStored });
        return { name: config.name, kind: config.kind, address: receiver.url, close: () => receiver.close() };
      } catch (e) {
        throw listenFailure(config.name, config.host, config.port, e);
      }
    }
  }
}

function fhirMapping(config: ConnectorConfig, deps: ConnectorDeps): void {
  if (deps.mappings.fhir === undefined) {
    throw new BridgeError('ERR_CONFIG_INVALID', `connector ${config.name} (${config.kind}) needs a FHIR mapping: set mapping.path or mapping.others to one (e.g. mappings/fhir-default.yaml)`);
  }
}

function listenFailure(name: string, host: string, port: number, e: unknown): BridgeError {
  if (isBridgeError(e)) return e;
  const code = (e as NodeJS.ErrnoException).code ?? 'error';
  const why = code === 'EADDRINUSE' ? 'the port is already in use' : code === 'EACCES' ? 'no permission to listen on this port' : `cannot listen (${code})`;
  return new BridgeError('ERR_CONNECTOR_START', `connector ${name}: ${host}:${port}: ${why}`, { cause: e });
}

async function startMllp(config: MllpConnectorConfig, deps: ConnectorDeps): Promise<RunningConnector> {
  const mapping = hl7Mapping(config, deps);
  const tls =
    config.tls === undefined
      ? undefined
      : {
          cert: readConfigFile(config, 'tls.certFile', config.tls.certFile),
          key: readConfigFile(config, 'tls.keyFile', config.tls.keyFile),
          ...(config.tls.clientCaFile !== undefined && { ca: readConfigFile(config, 'tls.clientCaFile', config.tls.clientCaFile) }),
        };
  try {
    const listener = await startMllpListener({
      name: config.name,
      host: config.host,
      port: config.port,
      store: deps.store,
      mapping,
      log: deps.log,
      now: deps.now,
      onStored: deps.onStored,
      maxMessageBytes: config.maxMessageBytes,
      idleTimeoutMs: config.idleTimeoutMs,
      maxConnections: config.maxConnections,
      encoding: config.encoding,
      ...(config.processingIds !== undefined && { processingIds: config.processingIds }),
      ...(tls !== undefined && { tls }),
    });
    return { name: config.name, kind: config.kind, address: `${listener.host}:${listener.port}`, close: () => listener.close() };
  } catch (e) {
    throw listenFailure(config.name, config.host, config.port, e);
  }
}

async function startFiles(config: FileDropConnectorConfig, deps: ConnectorDeps): Promise<RunningConnector> {
  const mapping = hl7Mapping(config, deps);
  const drop = await startFileDrop({
    name: config.name,
    dir: config.dir,
    ...(config.processedDir !== undefined && { processedDir: config.processedDir }),
    ...(config.errorDir !== undefined && { errorDir: config.errorDir }),
    extensions: config.extensions,
    pollMs: config.pollMs,
    settleMs: config.settleMs,
    encoding: config.encoding,
    ...(config.processingIds !== undefined && { processingIds: config.processingIds }),
    store: deps.store,
    mapping,
    log: deps.log,
    now: deps.now,
    onStored: deps.onStored,
  });
  return { name: config.name, kind: config.kind, address: path.resolve(config.dir), close: () => drop.close() };
}

function hl7Mapping(config: ConnectorConfig, deps: ConnectorDeps): Mapping {
  const mapping = deps.mappings.hl7v2;
  if (mapping === undefined) {
    throw new BridgeError('ERR_CONFIG_INVALID', `connector ${config.name} (${config.kind}) needs an HL7 v2 mapping, and mapping.path is not one`);
  }
  return mapping;
}

function readConfigFile(config: ConnectorConfig, option: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new BridgeError('ERR_CONFIG_INVALID', `connector ${config.name}: ${option} ${file} cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}
