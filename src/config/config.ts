import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

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
}

/** The bundled example policy, found relative to the package (works from src/ and dist/). */
export const EXAMPLE_POLICY = fileURLToPath(new URL('../../examples/policy.yaml', import.meta.url));

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
  return Object.freeze({
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
  });
}

/** A storage URL fit for logs and messages: the password, if any, is replaced. */
export function redactUrl(url: string): string {
  return url.replace(/^(postgres(?:ql)?:\/\/[^:/@]+:)[^@]*@/, '$1****@');
}
