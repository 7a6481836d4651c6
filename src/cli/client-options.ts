import type { Command } from 'commander';
import { CountersignClient } from '../client/index.js';
import { UsageError } from './exit-codes.js';

export interface ClientFlags {
  url?: string;
  token?: string;
  json?: boolean;
}

/** Adds --url/--token (defaulting to COUNTERSIGN_URL / COUNTERSIGN_TOKEN) and --json to a client command. */
export function clientFlags(cmd: Command): Command {
  return cmd
    .option('--url <url>', 'gateway URL (default: $COUNTERSIGN_URL or http://127.0.0.1:8080)')
    .option(
      '--token <token>',
      'API key (default: $COUNTERSIGN_TOKEN; prefer the variable: flags show up in ps)',
    )
    .option('--json', 'print JSON');
}

export function clientFrom(flags: ClientFlags, env: NodeJS.ProcessEnv = process.env): CountersignClient {
  const token = flags.token ?? env.COUNTERSIGN_TOKEN;
  if (!token) throw new UsageError('no API key: set COUNTERSIGN_TOKEN (or pass --token)');
  const url = flags.url ?? env.COUNTERSIGN_URL ?? 'http://127.0.0.1:8080';
  if (!/^https?:\/\/./.test(url))
    throw new UsageError(`--url / COUNTERSIGN_URL must be an http(s) URL, got ${url}`);
  return new CountersignClient({ url, token, channel: 'cli' });
}
