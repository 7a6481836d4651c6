import type { Command } from 'commander';
import { systemClock } from '../../core/clock.js';
import { parseDuration } from '../../core/duration.js';
import type { PrincipalKind, Role } from '../../core/types.js';
import { loadConfig } from '../../config/config.js';
import { createApiKey, publicKeyFields } from '../../identity/api-keys.js';
import { openStore } from '../../store/open-store.js';
import type { Store } from '../../store/store.js';
import { EXIT, UsageError } from '../exit-codes.js';
import { printJson, processIo, reportError, table, type Io } from '../output.js';

const CLI_ACTOR = { id: 'cli', kind: 'system', personId: null, channel: 'system' } as const;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

const list = (v: string | undefined) =>
  (v ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

// Key commands work on the configured store directly, so the first key can be made before any key exists.
async function withStore<T>(configFile: string | undefined, run: (store: Store) => Promise<T>): Promise<T> {
  const config = await loadConfig(configFile ?? null);
  const store = await openStore(config.storage);
  try {
    return await run(store);
  } finally {
    await store.close();
  }
}

interface CreateOptions {
  name?: string;
  kind?: string;
  email?: string;
  groups?: string;
  roles?: string;
  owner?: string;
  expires?: string;
  config?: string;
  json?: boolean;
}

export async function keysCreate(opts: CreateOptions, io: Io = processIo): Promise<number> {
  try {
    if (!opts.name) throw new UsageError('--name is required (a display name for the key, e.g. deploy-bot)');
    if (!opts.kind || !['human', 'agent', 'service'].includes(opts.kind)) {
      throw new UsageError('--kind must be human, agent or service');
    }
    const roles = list(opts.roles);
    for (const r of roles)
      if (r !== 'admin' && r !== 'auditor') throw new UsageError(`unknown role ${r}: use admin or auditor`);
    for (const [flag, v] of [
      ['--email', opts.email],
      ['--owner', opts.owner],
    ] as const) {
      if (v !== undefined && !EMAIL.test(v))
        throw new UsageError(`${flag} must be an email address, got ${JSON.stringify(v)}`);
    }
    if (opts.owner && opts.kind !== 'agent') throw new UsageError('--owner applies to agent keys only');
    let expiresAt: string | null = null;
    if (opts.expires) {
      const ms = parseDuration(opts.expires);
      if (ms === null)
        throw new UsageError(`--expires must be a duration such as 30d, 12h or 90m, got ${opts.expires}`);
      expiresAt = new Date(systemClock.now().getTime() + ms).toISOString();
    }
    const { record, token } = await withStore(opts.config, (store) =>
      createApiKey(
        store,
        systemClock,
        {
          name: opts.name as string,
          kind: opts.kind as PrincipalKind,
          email: opts.email ?? null,
          groups: list(opts.groups),
          roles: roles as Role[],
          owner: opts.owner ?? null,
          expiresAt,
        },
        CLI_ACTOR,
      ),
    );
    if (opts.json) printJson(io, { id: record.id, token });
    else {
      io.out(`Created ${record.kind} key ${record.id} (${record.name}).`);
      io.out(`Token, shown only this once — store it now:\n\n  ${token}\n`);
    }
    return EXIT.APPROVED;
  } catch (err) {
    return reportError(io, err, Boolean(opts.json));
  }
}

export async function keysList(
  opts: { config?: string; json?: boolean },
  io: Io = processIo,
): Promise<number> {
  try {
    const keys = await withStore(opts.config, (s) => s.listApiKeys());
    if (opts.json) {
      printJson(io, { keys: keys.map(publicKeyFields) });
      return EXIT.APPROVED;
    }
    if (keys.length === 0) {
      io.out('No keys yet. Create one with: countersign keys create --name NAME --kind human|agent|service');
      return EXIT.APPROVED;
    }
    const now = Date.now();
    const status = (k: (typeof keys)[number]) =>
      k.revokedAt ? 'revoked' : k.expiresAt && new Date(k.expiresAt).getTime() <= now ? 'expired' : 'active';
    io.out(
      table([
        ['ID', 'NAME', 'KIND', 'EMAIL/OWNER', 'GROUPS', 'ROLES', 'STATUS', 'EXPIRES'],
        ...keys.map((k) => [
          k.id,
          k.name,
          k.kind,
          k.email ?? (k.owner ? `owner ${k.owner}` : '-'),
          k.groups.join(',') || '-',
          k.roles.join(',') || '-',
          status(k),
          k.expiresAt ?? 'never',
        ]),
      ]),
    );
    return EXIT.APPROVED;
  } catch (err) {
    return reportError(io, err, Boolean(opts.json));
  }
}

export async function keysRevoke(
  id: string,
  opts: { config?: string; json?: boolean },
  io: Io = processIo,
): Promise<number> {
  try {
    const at = systemClock.now().toISOString();
    const revoked = await withStore(opts.config, async (s) => {
      const key = await s.getApiKey(id);
      if (!key) throw new Error(`no key ${id}; list them with: countersign keys list`);
      return s.revokeApiKey(id, at, {
        type: 'key.revoked',
        at,
        requestId: null,
        actor: CLI_ACTOR,
        data: { id },
      });
    });
    if (opts.json) printJson(io, { id, revoked: true, alreadyRevoked: !revoked });
    else io.out(revoked ? `Revoked ${id}.` : `${id} was already revoked.`);
    return EXIT.APPROVED;
  } catch (err) {
    return reportError(io, err, Boolean(opts.json));
  }
}

export function registerKeysCommands(program: Command): void {
  const keys = program
    .command('keys')
    .description('Create, list and revoke API keys (works on the store directly)');
  keys
    .command('create')
    .description('Create an API key; its token is printed once')
    .option('--name <name>', 'display name, e.g. deploy-bot or alice')
    .option('--kind <kind>', 'human, agent or service')
    .option('--email <email>', "the person's email (humans: their person id)")
    .option('--groups <a,b>', 'comma-separated groups, e.g. platform,sre')
    .option('--roles <roles>', 'comma-separated roles: admin, auditor')
    .option(
      '--owner <email>',
      'for agents: the person who owns this credential (excluded from reviewing its requests)',
    )
    .option('--expires <duration>', 'expire after a duration, e.g. 30d')
    .option('--config <file>', 'gateway config file (for the store)')
    .option('--json', 'print {"id", "token"} as JSON')
    .action(async (opts: CreateOptions) => {
      process.exitCode = await keysCreate(opts);
    });
  keys
    .command('list')
    .description('List API keys (never their tokens)')
    .option('--config <file>', 'gateway config file (for the store)')
    .option('--json', 'print JSON')
    .action(async (opts: { config?: string; json?: boolean }) => {
      process.exitCode = await keysList(opts);
    });
  keys
    .command('revoke')
    .description('Revoke an API key by id')
    .argument('<id>', 'key id, e.g. ak_0123456789abcdef')
    .option('--config <file>', 'gateway config file (for the store)')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { config?: string; json?: boolean }) => {
      process.exitCode = await keysRevoke(id, opts);
    });
}
