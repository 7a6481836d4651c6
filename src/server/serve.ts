import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { Checkpointer } from '../audit/checkpointer.js';
import { loadSigningKey } from '../audit/keys-file.js';
import { activePayloadKey, loadPayloadKeyring, payloadToSeal, sealPayload } from '../audit/payload-crypto.js';
import { systemClock, type Clock } from '../core/clock.js';
import type { Config } from '../config/config.js';
import { redactUrl } from '../config/config.js';
import { createScanner, type Scanner } from '../dlp/scanner.js';
import { Gateway } from '../gateway/gateway.js';
import { inspectSubmission } from '../gateway/inspect.js';
import { ExpirySweeper } from '../gateway/sweeper.js';
import { authenticateApiKey } from '../identity/api-keys.js';
import { loadPolicyFile } from '../policy/load-policy.js';
import { openStore } from '../store/open-store.js';
import { ThreadedSqliteStore } from '../store/sqlite/threaded-store.js';
import type { Store } from '../store/store.js';
import { guardStore } from '../store/unavailable-guard.js';
import { buildApp } from './app.js';
import { VERSION } from '../version.js';
import { unroutedTargets } from '../channels/routing.js';
import { startChannels, type OutboxTuning, type RunningChannels } from '../channels/start-channels.js';

export interface RunningGateway {
  app: FastifyInstance;
  gateway: Gateway;
  store: Store;
  sweeper: ExpirySweeper;
  checkpointer: Checkpointer;
  /** The configured channels and their outbox worker; null when none is configured. */
  channels: RunningChannels | null;
  /** The address it listens on, e.g. `http://127.0.0.1:8080`. */
  url: string;
  close(): Promise<void>;
}

/** Opens the store, loads the policy, starts the expiry sweeper and the HTTP server. */
export async function startGateway(
  config: Config,
  logger: Logger,
  options: { clock?: Clock; listen?: boolean; store?: Store; scanner?: Scanner; outbox?: OutboxTuning } = {},
): Promise<RunningGateway> {
  const clock = options.clock ?? systemClock;
  const policy = await loadPolicyFile(config.policy);
  logger.info(
    { policy: config.policy, version: policy.version, rules: policy.ruleNames.length },
    'policy loaded',
  );
  if (config.policyIsExample)
    logger.warn('no policy configured: running the bundled example policy (examples/policy.yaml)');
  // The payload keys first: a store thread seals payloads with the active one (see below).
  const payloadKeys = await loadPayloadKeyring(config.audit, config.dataDir);
  const opened =
    options.store ??
    (await openStore(config.storage, { thread: true, payloadKey: activePayloadKey(payloadKeys) }));
  const store = guardStore(opened);
  // `thread`: a SQLite file's connection runs on a thread of its own (see sqlite/threaded-store.ts).
  logger.info(
    { storage: redactUrl(config.storage), thread: opened instanceof ThreadedSqliteStore },
    'store ready',
  );
  // What started so far. Stopped last first by close(), and also when a later step of the start fails (a
  // bad channel secret, a port in use), so a failed start leaves no worker running and no store open.
  const started: (() => unknown)[] = [() => store.close()];
  const stopStarted = async (): Promise<void> => {
    let first: Error | undefined;
    for (const stop of [...started].reverse()) {
      try {
        await stop();
      } catch (err) {
        first ??= err instanceof Error ? err : new Error(String(err));
      }
    }
    if (first !== undefined) throw first;
  };
  try {
    // The audit log's keys: loaded or generated before the first request can be written.
    const signing = await loadSigningKey({ ...config.audit, dataDir: config.dataDir });
    logger.info(
      { source: signing.source, path: signing.path, verifierKey: signing.signer.verifierKey },
      'audit signing key ready',
    );

    const channels = await startChannels(config.channels, {
      store,
      clock,
      logger,
      publicUrl: config.publicUrl,
      ...(options.outbox ? { tuning: options.outbox } : {}),
    });
    if (channels) started.push(() => channels.stop());
    for (const u of unroutedTargets(policy.notifyTargets, channels?.worker.channelNames ?? new Set())) {
      logger.warn(u, `rule "${u.rule}" notifies ${u.target}, which nothing sends: ${u.why}`);
    }
    let sweeper: ExpirySweeper | null = null;
    const scanner = options.scanner ?? createScanner(config.dlp);
    const gateway = new Gateway({
      store,
      policy: () => policy,
      clock,
      logger,
      onDeadline: (at) => sweeper?.deadlineAdded(at),
      // A store thread seals the payload itself (AES-GCM is one of the larger costs of a submit, and the
      // event loop is the busier thread); elsewhere it is sealed here. The same bytes are stored either way.
      sealPayload: opened.sealsPayloads
        ? (_requestId, payload) => payloadToSeal(payload)
        : (requestId, payload) => sealPayload(payloadKeys, requestId, payload),
      inspect: (submitted) => inspectSubmission(scanner, config.dlp.trusted_destinations, submitted),
      ...channels?.gatewayDeps,
    });
    sweeper = new ExpirySweeper(gateway, store, clock, logger);
    await sweeper.start();
    const sweeping = sweeper;
    started.push(() => sweeping.stop());
    const checkpointer = new Checkpointer({
      store,
      signer: signing.signer,
      origin: config.audit.origin,
      clock,
      logger,
      everyEvents: config.audit.checkpointEveryEvents,
      intervalMs: config.audit.checkpointIntervalMs,
    });
    await checkpointer.start();
    started.push(() => checkpointer.stop());

    const app = await buildApp({
      gateway,
      store,
      authenticate: (token, recent) => authenticateApiKey(store, clock, token, { recent }),
      logger,
      requestsPerMinute: config.limits.requestsPerMinute,
      bodyBytes: config.limits.bodyBytes,
      version: VERSION,
      audit: { checkpointer, payloadKeys, clock },
      trustedDestinations: config.dlp.trusted_destinations,
      integrations: channels?.integrations(gateway) ?? [],
    });
    started.push(() => app.close());
    let url = '';
    if (options.listen !== false) {
      await app.listen({ host: config.listen.host, port: config.listen.port });
      const addr = app.server.address();
      const port = typeof addr === 'object' && addr ? addr.port : config.listen.port;
      const host = config.listen.host.includes(':') ? `[${config.listen.host}]` : config.listen.host;
      url = `http://${host}:${port}`;
    } else {
      await app.ready();
    }
    return {
      app,
      gateway,
      store,
      sweeper: sweeping,
      checkpointer,
      channels,
      url,
      close: stopStarted,
    };
  } catch (err) {
    await stopStarted().catch((cleanupErr: unknown) =>
      logger.warn({ err: cleanupErr }, 'cleanup after a failed start failed'),
    );
    throw err;
  }
}
