/**
 * The `fhir-poll` connector as the daemon runs it: SMART Backend Services auth (when configured), the FHIR HTTP
 * client and the poller, polled at once and then `intervalMs` after each poll ends (never two polls at a time).
 * A failed poll is logged and tried again at the next interval: the cursors did not move, so nothing is lost.
 * The subscription receiver uses the same client to read resources by id, and `pollNow` to catch up.
 */
import type { Logger } from '../../src/log';
import type { Store } from '../../src/store';
import type { FhirPollConnectorConfig } from './config';
import { createFhirHttp, type FhirHttp } from './fhir-http';
import { createFhirPoller, type FhirPoller } from './poller';
import { createSmartAuth } from './smart-auth';

export interface FhirPollConnector {
  readonly name: string;
  readonly http: FhirHttp;
  readonly poller: FhirPoller;
  /** Runs a poll now (or joins the one running) and resolves when it has ended. */
  pollNow(reason: string): Promise<void>;
  close(): Promise<void>;
}

export interface FhirPollDeps {
  readonly store: Store;
  readonly log: Logger;
  readonly now: () => Date;
  readonly onStored: () => void;
}

/** SMART auth (when configured) and the FHIR client of a fhir-poll connector (the daemon's, and `backfill`'s). */
export async function createConnectorHttp(config: FhirPollConnectorConfig, log: Logger, now?: () => Date): Promise<FhirHttp> {
  const auth =
    config.auth === undefined
      ? undefined
      : await createSmartAuth({
          tokenUrl: config.auth.tokenUrl,
          clientId: config.auth.clientId,
          scope: config.auth.scope,
          privateKeyFile: config.auth.privateKeyFile,
          alg: config.auth.alg,
          ...(config.auth.kid !== undefined && { kid: config.auth.kid }),
          ...(config.auth.jku !== undefined && { jku: config.auth.jku }),
          timeoutMs: config.timeoutMs,
          ...(now !== undefined && { now }),
          log,
        });
  return createFhirHttp({ baseUrl: config.baseUrl, timeoutMs: config.timeoutMs, log, ...(auth !== undefined && { auth }) });
}

export async function startFhirPollConnector(config: FhirPollConnectorConfig, deps: FhirPollDeps): Promise<FhirPollConnector> {
  const log = deps.log.child({ channel: config.name, connector: 'fhir-poll' });
  const http = await createConnectorHttp(config, log, deps.now);
  const poller = createFhirPoller({
    name: config.name,
    http,
    store: deps.store,
    log: deps.log,
    resourceTypes: config.resourceTypes,
    relatedPersonSearch: config.relatedPersonSearch,
    overlapMs: config.overlapMs,
    pageSize: config.pageSize,
    now: deps.now,
    onStored: deps.onStored,
  });

  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let again = false;

  const poll = (reason: string): Promise<void> => {
    if (running !== undefined) {
      // A poll asked for while one runs (a subscription gap) runs right after it, so it sees the newest changes.
      again = true;
      return running;
    }
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    running = (async () => {
      try {
        log.debug('FHIR poll started', { reason });
        await poller.pollOnce();
      } catch (e) {
        log.error('FHIR poll failed: tried again at the next interval (the cursors did not move past what was stored)', { error: e, intervalMs: config.intervalMs });
      } finally {
        running = undefined;
        if (!closed) {
          if (again) {
            again = false;
            void poll('requested during the previous poll');
          } else timer = setTimeout(() => void poll('interval'), config.intervalMs);
        }
      }
    })();
    return running;
  };
  void poll('start');
  log.info('FHIR poller started', { resourceTypes: config.resourceTypes, intervalMs: config.intervalMs, auth: config.auth?.kind ?? 'none' });

  return {
    name: config.name,
    http,
    poller,
    pollNow: poll,
    async close() {
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      await running;
      log.info('FHIR poller stopped');
    },
  };
}
