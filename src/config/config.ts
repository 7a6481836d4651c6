import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { parseDlpConfig } from '../dlp/config.js';
import { createScanner } from '../dlp/scanner.js';
import { hostname } from 'node:os';
import { parseDuration } from '../core/duration.js';
import { DELIVERY_KINDS, type DeliveryKind } from '../store/store.js';

/** The gateway's settings, after defaults, the file and the environment were applied (in that order). */
export interface Config {
  /** host:port to listen on. */
  listen: { host: string; port: number };
  /** `sqlite:PATH` or a `postgres://` URL. */
  storage: string;
  /** Path to the policy YAML. */
  policy: string;
  /** True when no policy was configured and the bundled example policy is used. */
  policyIsExample: boolean;
  dataDir: string;
  limits: { requestsPerMinute: number; bodyBytes: number };
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Where the config came from, or null when none was given. */
  file: string | null;
  audit: AuditConfig;
  /** Custom detectors, allowlist, trusted destinations (`dlp:` in the file; see docs/dlp.md). */
  dlp: ReturnType<typeof parseDlpConfig>;
  /** Notification channels (`channels:` in the file); absent or empty: none, and nothing goes to the outbox. */
  channels?: ChannelsConfig;
  /**
   * The address people reach the gateway at (`public_url`, env COUNTERSIGN_PUBLIC_URL), without a trailing
   * slash; channel messages link to requests under it. Null: messages carry no link.
   */
  publicUrl: string | null;
}

/** Configured channels. Secrets stay references (`env:NAME`, `file:PATH`) until the gateway starts. */
export interface ChannelsConfig {
  slack?: SlackConfig;
  teams?: TeamsConfig;
  webhooks?: WebhookConfig[];
}

/** `channels.teams` (see docs/integrations/teams.md). */
export interface TeamsConfig {
  /** The bot's Microsoft App ID: the audience of incoming tokens and the client id of outgoing ones. */
  appId: string;
  /** The app's client secret, as a secret reference or the value. */
  appPassword: string;
  /** The Entra tenant of a single-tenant bot; null for a multi-tenant one. */
  tenantId: string | null;
  /** Where the bot gets its client-credentials token for the Bot Connector API. */
  tokenUrl: string;
  /** The Bot Framework OpenID metadata whose `jwks_uri` signs incoming activities. */
  openidMetadataUrl: string;
  /** The issuer incoming tokens must carry. */
  issuer: string;
  /** Named conversations that `notify: [teams:NAME]` posts to. */
  conversations: Record<string, { serviceUrl: string; conversationId: string }>;
  /** Entra object id (`aadObjectId`) → email, for people the Connector API gives no email for. */
  users: Record<string, string>;
}

/** Bot Framework's public endpoints (the defaults of `channels.teams`). */
export const BOT_FRAMEWORK = {
  openidMetadataUrl: 'https://login.botframework.com/v1/.well-known/openidconfiguration',
  issuer: 'https://api.botframework.com',
  tokenUrl: (tenant: string | null) =>
    `https://login.microsoftonline.com/${tenant ?? 'botframework.com'}/oauth2/v2.0/token`,
} as const;

/** One entry of `channels.webhooks` (see docs/integrations/webhooks.md). */
export interface WebhookConfig {
  /** What `notify: [webhook:NAME]` refers to. */
  name: string;
  url: string;
  /** The Standard Webhooks signing secret (`whsec_…`), as a secret reference or the value. */
  secret: string;
  /** The event types sent; all of them by default. */
  events: DeliveryKind[];
}

/** `channels.slack` (see docs/integrations/slack.md). */
export interface SlackConfig {
  /** The bot token (`xoxb-…`), as a secret reference or the value. */
  botToken: string;
  /** The app's signing secret, as a secret reference or the value. */
  signingSecret: string;
  /** The Web API base URL, ending in `/`; Slack's by default. */
  apiUrl: string;
  /** Also send each eligible `user:` approver a direct message. */
  dmApprovers: boolean;
  /** Slack user id → email, for people whose Slack profile email is not the one Countersign knows. */
  users: Record<string, string>;
}

export const SLACK_API_URL = 'https://slack.com/api/';

/** The verifiable audit log (`audit:` in the file; see docs/operations.md). */
export interface AuditConfig {
  /** The checkpoint origin line (and the generated key's name); default `countersign/<hostname>`. */
  origin: string;
  /** `PRIVATE+KEY+…`, `file:PATH` or `env:NAME`; null: generated into `<data_dir>/audit-signing.key`. */
  signingKey: string | null;
  /** Sign a checkpoint once the log grew by this many events. */
  checkpointEveryEvents: number;
  /** …or when this much time passed and it grew. */
  checkpointIntervalMs: number;
  /** Payload encryption keys (`key`: `env:NAME`, `file:PATH` or base64 of 32 bytes); old ids stay readable. */
  payloadKeys: { id: string; key: string }[];
  /** The key new payloads are encrypted under; null: the only configured (or generated) key. */
  payloadKeyId: string | null;
}

/** The audit settings when the file has none. */
export function defaultAuditConfig(): AuditConfig {
  return {
    origin: `countersign/${hostname()}`,
    signingKey: null,
    checkpointEveryEvents: 1000,
    checkpointIntervalMs: 60_000,
    payloadKeys: [],
    payloadKeyId: null,
  };
}

/** The bundled example policy, found relative to the package (works from src/ and dist/). */
export const EXAMPLE_POLICY = fileURLToPath(new URL('../../examples/policy.yaml', import.meta.url));

const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' });

const fileSchema = z
  .object({
    listen: z.string().optional(),
    storage: z.string().min(1).optional(),
    policy: z.string().min(1).optional(),
    data_dir: z.string().min(1).optional(),
    limits: z
      .object({
        requests_per_minute: z.number().int().min(0).optional(),
        body_bytes: z.number().int().min(1024).optional(),
      })
      .strict()
      .optional(),
    log_level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).optional(),
    public_url: httpUrl.optional(),
    audit: z
      .object({
        origin: z
          .string()
          .regex(/^[^\s+]{1,200}$/, 'must be 1-200 characters without spaces or +')
          .optional(),
        signing_key: z.string().min(1).optional(),
        checkpoint_every_events: z.number().int().min(1).optional(),
        checkpoint_interval: z.string().optional(),
        payload_keys: z
          .array(z.object({ id: z.string().min(1), key: z.string().min(1) }).strict())
          .optional(),
        payload_key_id: z.string().min(1).optional(),
      })
      .strict()
      .optional(),
    // Checked in full by parseDlpConfig below, so that its messages name the detector at fault.
    dlp: z.record(z.string(), z.unknown()).optional(),
    channels: z
      .object({
        slack: z
          .object({
            bot_token: z.string().min(1),
            signing_secret: z.string().min(1),
            api_url: z.url({ protocol: /^https?$/ }).optional(),
            dm_approvers: z.boolean().optional(),
            users: z
              .record(z.string().regex(/^[UW][A-Z0-9]+$/, 'must be a Slack user id'), z.email())
              .optional(),
          })
          .strict()
          .optional(),
        teams: z
          .object({
            app_id: z.string().min(1),
            app_password: z.string().min(1),
            tenant_id: z.string().min(1).optional(),
            token_url: httpUrl.optional(),
            openid_metadata_url: httpUrl.optional(),
            issuer: z.string().min(1).optional(),
            conversations: z
              .record(
                z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be a name of letters, digits, _ . -'),
                z.object({ service_url: httpUrl, conversation_id: z.string().min(1) }).strict(),
              )
              .optional(),
            users: z.record(z.string().min(1), z.email()).optional(),
          })
          .strict()
          .optional(),
        webhooks: z
          .array(
            z
              .object({
                name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be a name of letters, digits, _ . -'),
                url: httpUrl,
                secret: z.string().min(1),
                events: z
                  .array(z.enum(DELIVERY_KINDS as [DeliveryKind, ...DeliveryKind[]]))
                  .min(1)
                  .optional(),
              })
              .strict(),
          )
          .optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export function parseListen(text: string, source: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:]+)\]|([^:\s]+)):(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) {
    throw new ConfigError(
      `${source}: listen must be HOST:PORT (e.g. 127.0.0.1:8080 or [::1]:8080), got ${JSON.stringify(text)}`,
    );
  }
  return { host: (m[1] ?? m[2]) as string, port };
}

/**
 * Loads the config: defaults, then the YAML file (if any), then COUNTERSIGN_* environment variables.
 * Relative paths in the file are resolved against the file's folder; the others against the working directory.
 */
export async function loadConfig(file: string | null, env: NodeJS.ProcessEnv = process.env): Promise<Config> {
  let raw: z.infer<typeof fileSchema> = {};
  const base = file ? dirname(resolve(file)) : process.cwd();
  if (file) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new ConfigError(
        `cannot read config file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      );
    }
    let doc: unknown;
    try {
      doc = parseYaml(text) ?? {};
    } catch (err) {
      throw new ConfigError(`${file}: not valid YAML: ${(err as Error).message}`);
    }
    const parsed = fileSchema.safeParse(doc);
    if (!parsed.success) {
      const lines = parsed.error.issues.map((i) => `${file}: ${i.path.join('.') || '(root)'}: ${i.message}`);
      throw new ConfigError(lines.join('\n'));
    }
    raw = parsed.data;
  }
  const fromFile = (p: string) => (isAbsolute(p) ? p : resolve(base, p));
  const dataDir =
    env.COUNTERSIGN_DATA_DIR ?? (raw.data_dir ? fromFile(raw.data_dir) : resolve('.countersign'));
  let storage = env.COUNTERSIGN_STORAGE ?? raw.storage ?? `sqlite:${resolve(dataDir, 'countersign.db')}`;
  if (
    raw.storage &&
    !env.COUNTERSIGN_STORAGE &&
    storage.startsWith('sqlite:') &&
    storage !== 'sqlite::memory:'
  ) {
    storage = `sqlite:${fromFile(storage.slice('sqlite:'.length))}`;
  }
  if (!/^(sqlite:.+|postgres(ql)?:\/\/.+)$/.test(storage)) {
    throw new ConfigError(
      `storage must be sqlite:PATH or a postgres:// URL, got ${JSON.stringify(redactUrl(storage))}`,
    );
  }
  const policy = env.COUNTERSIGN_POLICY ?? (raw.policy ? fromFile(raw.policy) : null);
  const rpm = env.COUNTERSIGN_RATE_LIMIT ?? raw.limits?.requests_per_minute ?? 60_000;
  const requestsPerMinute = Number(rpm);
  if (!Number.isInteger(requestsPerMinute) || requestsPerMinute < 0) {
    throw new ConfigError(
      `limits.requests_per_minute must be a whole number >= 0, got ${JSON.stringify(rpm)}`,
    );
  }
  const logLevel = env.COUNTERSIGN_LOG_LEVEL ?? raw.log_level ?? 'info';
  const level = fileSchema.shape.log_level.safeParse(logLevel);
  if (!level.success || level.data === undefined) {
    throw new ConfigError(
      `log level must be one of fatal, error, warn, info, debug, trace, silent; got ${logLevel}`,
    );
  }
  const audit = auditConfig(raw.audit ?? {}, fromFile);
  let dlp: Config['dlp'];
  try {
    dlp = parseDlpConfig(raw.dlp);
    createScanner(dlp); // compiles custom detectors now: a bad regex stops the start, not the first request
  } catch (err) {
    throw new ConfigError(err instanceof Error ? err.message : String(err));
  }
  const channels = channelsConfig(raw.channels, base);
  const publicUrl = env.COUNTERSIGN_PUBLIC_URL ?? raw.public_url ?? null;
  if (publicUrl !== null && !httpUrl.safeParse(publicUrl).success) {
    throw new ConfigError(`COUNTERSIGN_PUBLIC_URL must be an http(s) URL, got ${JSON.stringify(publicUrl)}`);
  }
  return Object.freeze({
    publicUrl: publicUrl === null ? null : publicUrl.replace(/\/+$/, ''),
    ...(channels === undefined ? {} : { channels }),
    listen: parseListen(
      env.COUNTERSIGN_LISTEN ?? raw.listen ?? '127.0.0.1:8080',
      env.COUNTERSIGN_LISTEN ? 'COUNTERSIGN_LISTEN' : 'listen',
    ),
    storage,
    policy: policy ?? EXAMPLE_POLICY,
    policyIsExample: policy === null,
    dataDir,
    limits: { requestsPerMinute, bodyBytes: raw.limits?.body_bytes ?? 1024 * 1024 },
    logLevel: level.data,
    file: file ? resolve(file) : null,
    audit,
    dlp,
  });
}

function auditConfig(
  raw: NonNullable<z.infer<typeof fileSchema>['audit']>,
  fromFile: (p: string) => string,
): AuditConfig {
  const defaults = defaultAuditConfig();
  // file: paths in the config file are relative to it, like every other path there.
  const ref = (spec: string) => (spec.startsWith('file:') ? `file:${fromFile(spec.slice(5))}` : spec);
  let intervalMs = defaults.checkpointIntervalMs;
  if (raw.checkpoint_interval !== undefined) {
    const ms = parseDuration(raw.checkpoint_interval);
    if (ms === null) {
      throw new ConfigError(
        `audit.checkpoint_interval must be a duration such as 60s or 5m, got ${JSON.stringify(raw.checkpoint_interval)}`,
      );
    }
    intervalMs = ms;
  }
  return {
    origin: raw.origin ?? defaults.origin,
    signingKey: raw.signing_key === undefined ? null : ref(raw.signing_key),
    checkpointEveryEvents: raw.checkpoint_every_events ?? defaults.checkpointEveryEvents,
    checkpointIntervalMs: intervalMs,
    payloadKeys: (raw.payload_keys ?? []).map((k) => ({ id: k.id, key: ref(k.key) })),
    payloadKeyId: raw.payload_key_id ?? null,
  };
}

function channelsConfig(
  raw: z.infer<typeof fileSchema>['channels'],
  base: string,
): ChannelsConfig | undefined {
  if (raw === undefined) return undefined;
  const ref = (spec: string) =>
    spec.startsWith('file:') && !isAbsolute(spec.slice(5)) ? `file:${resolve(base, spec.slice(5))}` : spec;
  const lower = (m: Record<string, string> | undefined) =>
    Object.fromEntries(Object.entries(m ?? {}).map(([id, e]) => [id, e.toLowerCase()]));
  const out: ChannelsConfig = {};
  const { slack, teams, webhooks } = raw;
  if (slack !== undefined) {
    const apiUrl = slack.api_url ?? SLACK_API_URL;
    out.slack = Object.freeze({
      botToken: ref(slack.bot_token),
      signingSecret: ref(slack.signing_secret),
      apiUrl: apiUrl.endsWith('/') ? apiUrl : `${apiUrl}/`,
      dmApprovers: slack.dm_approvers ?? false,
      users: lower(slack.users),
    });
  }
  if (teams !== undefined) {
    const tenantId = teams.tenant_id ?? null;
    out.teams = Object.freeze({
      appId: teams.app_id,
      appPassword: ref(teams.app_password),
      tenantId,
      tokenUrl: teams.token_url ?? BOT_FRAMEWORK.tokenUrl(tenantId),
      openidMetadataUrl: teams.openid_metadata_url ?? BOT_FRAMEWORK.openidMetadataUrl,
      issuer: teams.issuer ?? BOT_FRAMEWORK.issuer,
      conversations: Object.fromEntries(
        Object.entries(teams.conversations ?? {}).map(([name, c]) => [
          name,
          { serviceUrl: c.service_url.replace(/\/+$/, ''), conversationId: c.conversation_id },
        ]),
      ),
      users: lower(teams.users),
    });
  }
  if (webhooks !== undefined && webhooks.length > 0) {
    const names = new Set<string>();
    for (const w of webhooks) {
      if (names.has(w.name))
        throw new ConfigError(`channels.webhooks: the name ${JSON.stringify(w.name)} is used twice`);
      names.add(w.name);
    }
    out.webhooks = webhooks.map((w) =>
      Object.freeze({
        name: w.name,
        url: w.url,
        secret: ref(w.secret),
        events: w.events ?? [...DELIVERY_KINDS],
      }),
    );
  }
  return Object.keys(out).length === 0 ? undefined : out;
}

/** A storage URL fit for logs and messages: the password, if any, is replaced. */
export function redactUrl(url: string): string {
  return url.replace(/^(postgres(?:ql)?:\/\/[^:/@]+:)[^@]*@/, '$1****@');
}
