/**
 * A real gateway (store, policy file, sweeper, Fastify app) for tests, driven in process with `inject`.
 * The same harness runs on SQLite and PostgreSQL through `storeBackends()`.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock } from '../../src/core/clock.js';
import type { PrincipalKind, Role } from '../../src/core/types.js';
import { defaultAuditConfig, type AuditConfig, type Config } from '../../src/config/config.js';
import { createApiKey } from '../../src/identity/api-keys.js';
import { createLogger } from '../../src/logger.js';
import type { OutboxTuning } from '../../src/channels/start-channels.js';
import { startGateway, type RunningGateway } from '../../src/server/serve.js';
import type { TestDatabase } from './postgres.js';
import { parseDlpConfig, type DlpConfig } from '../../src/dlp/config.js';
import type { Scanner } from '../../src/dlp/scanner.js';

/** `deploy.run` needs one approval from group:platform; anything else is denied. */
export const ONE_APPROVAL_POLICY = `version: 1
defaults:
  effect: deny
rules:
  - name: deploys-need-one
    when: action == "deploy.run"
    effect: require_approval
    approval: { approvers: [group:platform], quorum: 1, timeout: 1h }
`;

export interface KeySpec {
  name?: string;
  kind?: PrincipalKind;
  email?: string;
  groups?: string[];
  roles?: Role[];
  owner?: string;
}

export interface Reply {
  status: number;

  body: any;
  headers: Record<string, unknown>;
}

export class Harness {
  readonly running: RunningGateway;
  readonly db: TestDatabase;
  readonly clock: Clock;

  constructor(running: RunningGateway, db: TestDatabase, clock: Clock) {
    this.running = running;
    this.db = db;
    this.clock = clock;
  }

  get store() {
    return this.running.store;
  }

  async key(spec: KeySpec = {}): Promise<string> {
    const { token } = await createApiKey(
      this.running.store,
      this.clock,
      {
        name: spec.name ?? spec.email ?? 'test',
        kind: spec.kind ?? 'human',
        email: spec.email ?? null,
        groups: spec.groups ?? [],
        roles: spec.roles ?? [],
        owner: spec.owner ?? null,
      },
      { id: 'test', kind: 'system', personId: null, channel: 'system' },
    );
    return token;
  }

  async call(
    method: 'GET' | 'POST',
    url: string,
    token?: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Reply> {
    const res = await this.running.app.inject({
      method,
      url,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
      ...(body === undefined ? {} : { payload: body as Record<string, unknown> }),
    });
    let parsed: unknown = res.body;
    try {
      parsed = JSON.parse(res.body);
    } catch {
      // not JSON (e.g. /metrics)
    }
    return { status: res.statusCode, body: parsed, headers: res.headers };
  }

  submit(token: string, body: Record<string, unknown>, headers: Record<string, string> = {}): Promise<Reply> {
    return this.call('POST', '/v1/actions', token, body, headers);
  }

  approve(token: string, id: string, comment?: string): Promise<Reply> {
    return this.call('POST', `/v1/requests/${id}/approve`, token, { comment: comment ?? null });
  }

  deny(token: string, id: string, comment?: string): Promise<Reply> {
    return this.call('POST', `/v1/requests/${id}/deny`, token, { comment: comment ?? 'no' });
  }

  async auditTypes(requestId?: string): Promise<string[]> {
    const events = await this.running.store.listAuditEvents(0, 100_000);
    return events.filter((e) => requestId === undefined || e.requestId === requestId).map((e) => e.type);
  }

  /** Stops the gateway (the database stays, so a new harness on it is a restart). */
  async stop(): Promise<void> {
    await this.running.close();
  }
}

export interface HarnessOptions {
  clock?: Clock;
  requestsPerMinute?: number;
  bodyBytes?: number;
  /** Listen on 127.0.0.1 (a free port) so that real HTTP clients (the CLI, the SDK) can call it. */
  listen?: boolean;
  /** The port to listen on (default: a free one); for a restart on the same address. */
  port?: number;
  /** Receives every log line (at trace level) instead of discarding them. */
  logSink?: (line: string) => void;
  /** Audit settings over the defaults (e.g. a fixed signing key, so that a restart signs with the same key). */
  audit?: Partial<AuditConfig>;
  /** The `dlp:` config block (custom detectors, allowlist, trusted destinations). */
  dlp?: DlpConfig;
  /** Replaces the DLP scanner (e.g. with one that throws, to test failing closed). */
  scanner?: Scanner;
  /** The `channels:` config (e.g. Slack pointed at a fake). */
  channels?: Config['channels'];
  /** Outbox worker timing, short in tests. */
  outbox?: OutboxTuning;
  /** `public_url`: channel messages link to requests under it. */
  publicUrl?: string;
}

/** Starts a gateway on `db` with `policyYaml`. Call `stop()` (and `db.cleanup()`) when done. */
export async function startHarness<H extends Harness = Harness>(
  db: TestDatabase,
  policyYaml: string,
  opts: HarnessOptions = {},
  Make: new (running: RunningGateway, db: TestDatabase, clock: Clock) => H = Harness as never,
): Promise<H> {
  const dir = await mkdtemp(join(tmpdir(), 'countersign-policy-'));
  const policy = join(dir, 'policy.yaml');
  await writeFile(policy, policyYaml);
  const config: Config = {
    listen: { host: '127.0.0.1', port: opts.port ?? 0 },
    storage: db.url,
    policy,
    policyIsExample: false,
    dataDir: dir,
    limits: { requestsPerMinute: opts.requestsPerMinute ?? 0, bodyBytes: opts.bodyBytes ?? 1024 * 1024 },
    logLevel: 'silent',
    file: null,
    audit: { ...defaultAuditConfig(), origin: 'countersign.test/audit', ...opts.audit },
    dlp: parseDlpConfig(opts.dlp),
    ...(opts.channels ? { channels: opts.channels } : {}),
    publicUrl: opts.publicUrl ?? null,
  };
  const { systemClock } = await import('../../src/core/clock.js');
  const clock = opts.clock ?? systemClock;
  const store = await db.open();
  const logger = opts.logSink ? createLogger('trace', { write: opts.logSink }) : createLogger('silent');
  const running = await startGateway(config, logger, {
    clock,
    listen: opts.listen ?? false,
    store,
    ...(opts.scanner ? { scanner: opts.scanner } : {}),
    ...(opts.outbox ? { outbox: opts.outbox } : {}),
  }).catch(async (err: unknown) => {
    await rm(dir, { recursive: true, force: true });
    throw err;
  });
  const harness = new Make(running, db, clock);
  const stop = harness.stop.bind(harness);
  harness.stop = async () => {
    try {
      await stop();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };
  return harness;
}
