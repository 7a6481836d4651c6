/**
 * `countersign audit export|checkpoint|verify|report`: the auditor's side of the verifiable log. Client
 * commands talk to the gateway named by COUNTERSIGN_URL with COUNTERSIGN_TOKEN (auditor or admin role).
 */
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { AuditRecord } from '../../audit/event.js';
import { buildEvidenceReport, reportMarkdown } from '../../audit/evidence-report.js';
import { CountersignApiError } from '../../client/index.js';
import { canonicalJson } from '../../core/digest.js';
import { parseDuration } from '../../core/duration.js';
import { clientFlags, type ClientFlags } from '../client-options.js';
import { EXIT, UsageError } from '../exit-codes.js';
import { printJson, processIo, reportError, type Io } from '../output.js';
import { auditVerifyOffline } from './audit-verify.js';

const PAGE = 5_000;

/** The audit endpoints, spoken to directly: they answer text as well as JSON. */
export class AuditClient {
  readonly #url: string;
  readonly #token: string;
  readonly #fetch: typeof fetch;

  constructor(opts: { url: string; token: string; fetch?: typeof fetch }) {
    this.#url = opts.url.replace(/\/+$/, '');
    this.#token = opts.token;
    this.#fetch = opts.fetch ?? fetch;
  }

  static from(flags: ClientFlags, env: NodeJS.ProcessEnv = process.env): AuditClient {
    const token = flags.token ?? env.COUNTERSIGN_TOKEN;
    if (!token) throw new UsageError('no API key: set COUNTERSIGN_TOKEN (or pass --token)');
    const url = flags.url ?? env.COUNTERSIGN_URL ?? 'http://127.0.0.1:8080';
    if (!/^https?:\/\/./.test(url))
      throw new UsageError(`--url / COUNTERSIGN_URL must be an http(s) URL, got ${url}`);
    return new AuditClient({ url, token });
  }

  async events(after: number, limit = PAGE): Promise<{ events: AuditRecord[]; next: number | null }> {
    return JSON.parse(await this.#call('GET', `/v1/audit/events?after=${after}&limit=${limit}`)) as {
      events: AuditRecord[];
      next: number | null;
    };
  }

  /** Every event with seq <= `size` (all when null), page by page. */
  async *allEvents(size: number | null = null): AsyncGenerator<AuditRecord[]> {
    let after = 0;
    for (;;) {
      const page = await this.events(after);
      const wanted = size === null ? page.events : page.events.filter((e) => e.seq <= size);
      if (wanted.length > 0) yield wanted;
      const last = page.events.at(-1)?.seq;
      if (page.next === null || last === undefined || (size !== null && last >= size)) return;
      after = page.next;
    }
  }

  checkpoint(): Promise<string> {
    return this.#call('GET', '/v1/audit/checkpoint');
  }

  signCheckpoint(): Promise<string> {
    return this.#call('POST', '/v1/audit/checkpoint');
  }

  async verifierKey(): Promise<string> {
    return (await this.#call('GET', '/v1/audit/verifier-key')).trim();
  }

  async #call(method: string, path: string): Promise<string> {
    let res: Response;
    try {
      res = await this.#fetch(`${this.#url}${path}`, {
        method,
        headers: { authorization: `Bearer ${this.#token}`, 'x-countersign-channel': 'cli' },
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
      throw new CountersignApiError('UNAVAILABLE', 0, `cannot reach the gateway at ${this.#url} (${cause})`);
    }
    const text = await res.text();
    if (!res.ok) {
      let e: { code?: string; message?: string } | undefined;
      try {
        e = (JSON.parse(text) as { error?: { code?: string; message?: string } }).error;
      } catch {
        e = undefined;
      }
      throw new CountersignApiError(e?.code ?? 'INTERNAL', res.status, e?.message ?? `HTTP ${res.status}`);
    }
    return text;
  }
}

/**
 * The checkpoint body's first three lines: origin, size, root (C2SP tlog-checkpoint). The root stays
 * base64, as in the note, in proofs and in `audit verify --json`.
 */
export function checkpointHeader(note: string): { origin: string; size: number; root: string } {
  const [origin, size, root] = note.split('\n');
  if (origin === undefined || size === undefined || !/^\d+$/.test(size) || root === undefined) {
    throw new Error('the server answered a checkpoint that is not a tlog-checkpoint note');
  }
  return { origin, size: Number(size), root };
}

/** `2026-01-01`, an ISO timestamp, or a duration back from now (`30d`, `12h`). */
export function parseWhen(text: string, flag: string, now = new Date()): Date {
  const ms = parseDuration(text);
  if (ms !== null) return new Date(now.getTime() - ms);
  const t = Date.parse(text);
  if (Number.isNaN(t))
    throw new UsageError(`${flag} must be a date, a timestamp or a duration such as 30d, got ${text}`);
  return new Date(t);
}

const CSV_COLUMNS = ['seq', 'at', 'type', 'requestId', 'actorId', 'actorKind', 'personId', 'channel', 'data'];

function csvCell(value: unknown): string {
  const text =
    value === null || value === undefined ? '' : typeof value === 'string' ? value : JSON.stringify(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function csvLine(e: AuditRecord): string {
  return [
    e.seq,
    e.at,
    e.type,
    e.requestId,
    e.actor.id,
    e.actor.kind,
    e.actor.personId,
    e.actor.channel,
    e.data,
  ]
    .map(csvCell)
    .join(',');
}

export interface ExportFlags extends ClientFlags {
  since?: string;
  until?: string;
  format?: string;
  out?: string;
}

export async function auditExport(flags: ExportFlags, io: Io = processIo): Promise<number> {
  try {
    const format = flags.format ?? 'jsonl';
    if (format !== 'jsonl' && format !== 'csv')
      throw new UsageError(`--format must be jsonl or csv, got ${format}`);
    const since = flags.since === undefined ? null : parseWhen(flags.since, '--since');
    const until = flags.until === undefined ? null : parseWhen(flags.until, '--until');
    const client = AuditClient.from(flags);
    const file = flags.out === undefined ? null : createWriteStream(flags.out, { mode: 0o600 });
    const write = (text: string) =>
      file === null
        ? io.out(text)
        : new Promise<void>((ok) => (file.write(`${text}\n`) ? ok() : file.once('drain', ok)));
    // Progress only where a person watches: a terminal on stderr.
    const progress = Boolean(process.stderr.isTTY);
    let written = 0;
    let seen = 0;
    try {
      if (format === 'csv') await write(CSV_COLUMNS.join(','));
      for await (const page of client.allEvents()) {
        seen += page.length;
        const kept = page.filter((e) => {
          const t = Date.parse(e.at);
          return (since === null || t >= since.getTime()) && (until === null || t <= until.getTime());
        });
        if (kept.length > 0)
          // JSON Lines in JCS form: each line's bytes are its leaf (docs/audit.md).
          await write(kept.map((e) => (format === 'csv' ? csvLine(e) : canonicalJson(e))).join('\n'));
        written += kept.length;
        if (progress) process.stderr.write(`\rexported ${written} of ${seen} events read…`);
      }
    } finally {
      if (file !== null)
        await new Promise<void>((ok, fail) => file.end((err?: Error | null) => (err ? fail(err) : ok())));
    }
    if (progress) process.stderr.write('\n');
    if (flags.json) io.err(JSON.stringify({ exported: written, out: flags.out ?? null, format }));
    else if (flags.out !== undefined) io.err(`Exported ${written} events to ${flags.out}.`);
    return EXIT.APPROVED;
  } catch (err) {
    return reportError(io, err, Boolean(flags.json));
  }
}

export async function auditCheckpoint(flags: ClientFlags, io: Io = processIo): Promise<number> {
  try {
    const note = await AuditClient.from(flags).signCheckpoint();
    if (flags.json) printJson(io, { ...checkpointHeader(note), note });
    else io.out(note.endsWith('\n') ? note.slice(0, -1) : note);
    return EXIT.APPROVED;
  } catch (err) {
    return reportError(io, err, Boolean(flags.json));
  }
}

export interface VerifyFlags extends ClientFlags {
  events?: string;
  checkpoint?: string;
  key?: string;
  oldCheckpoint?: string;
}

/** Offline with --events; otherwise downloads the running server's log, checkpoint and key and checks those. */
export async function auditVerify(flags: VerifyFlags, io: Io = processIo): Promise<number> {
  const json = Boolean(flags.json);
  try {
    if (flags.events !== undefined) {
      if (flags.checkpoint === undefined || flags.key === undefined) {
        throw new UsageError(
          '--events needs --checkpoint NOTE_FILE and --key VERIFIER_KEY (or a file holding it)',
        );
      }
      return await auditVerifyOffline(
        {
          events: flags.events,
          checkpoint: flags.checkpoint,
          key: flags.key,
          json,
          ...(flags.oldCheckpoint === undefined ? {} : { oldCheckpoint: flags.oldCheckpoint }),
        },
        io,
      );
    }
    const client = AuditClient.from(flags);
    // A young log may have no checkpoint yet: ask the server to sign one rather than fail.
    const note = await client.checkpoint().catch(async (err: unknown) => {
      if (!(err instanceof CountersignApiError && err.code === 'NOT_FOUND')) throw err;
      if (!json) io.err('no checkpoint yet: asking the server to sign one');
      return client.signCheckpoint();
    });
    const { size } = checkpointHeader(note);
    const key = flags.key ?? (await client.verifierKey());
    const dir = await mkdtemp(join(tmpdir(), 'countersign-verify-'));
    try {
      const events = join(dir, 'events.jsonl');
      const lines: string[] = [];
      for await (const page of client.allEvents(size)) for (const e of page) lines.push(canonicalJson(e));
      await writeFile(events, lines.length === 0 ? '' : `${lines.join('\n')}\n`);
      const checkpoint = join(dir, 'checkpoint.note');
      await writeFile(checkpoint, note);
      return await auditVerifyOffline(
        {
          events,
          checkpoint,
          key,
          json,
          ...(flags.oldCheckpoint === undefined ? {} : { oldCheckpoint: flags.oldCheckpoint }),
        },
        io,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  } catch (err) {
    return reportError(io, err, json);
  }
}

export interface ReportFlags extends ClientFlags {
  since?: string;
  until?: string;
  format?: string;
}

export async function auditReport(flags: ReportFlags, io: Io = processIo): Promise<number> {
  try {
    const format = flags.format ?? 'md';
    if (format !== 'md' && format !== 'json')
      throw new UsageError(`--format must be md or json, got ${format}`);
    const now = new Date();
    const since = parseWhen(flags.since ?? '30d', '--since', now);
    const until = flags.until === undefined ? now : parseWhen(flags.until, '--until', now);
    const client = AuditClient.from(flags);
    // A fresh checkpoint, so the report covers the log up to now and names what it was built from.
    const header = checkpointHeader(await client.signCheckpoint());
    const records: AuditRecord[] = [];
    for await (const page of client.allEvents(header.size)) records.push(...page);
    const report = buildEvidenceReport(records, header, since, until);
    if (format === 'json' || flags.json) printJson(io, report);
    else io.out(reportMarkdown(report));
    return EXIT.APPROVED;
  } catch (err) {
    return reportError(io, err, Boolean(flags.json));
  }
}

const setExit = (code: number) => {
  process.exitCode = code;
};

export function registerAuditCommands(program: Command): void {
  const audit = program
    .command('audit')
    .description('Export, checkpoint, verify and report on the audit log');
  clientFlags(
    audit
      .command('export')
      .description('Export audit events as JSON Lines (one event object per line) or CSV')
      .option('--since <when>', 'only events at or after (date, timestamp or duration back, e.g. 30d)')
      .option('--until <when>', 'only events at or before')
      .option('--format <format>', 'jsonl or csv', 'jsonl')
      .option('--out <file>', 'write to a file (mode 0600) instead of stdout'),
  ).action(async (flags: ExportFlags) => setExit(await auditExport(flags)));
  clientFlags(audit.command('checkpoint').description('Sign a checkpoint now and print the note')).action(
    async (flags: ClientFlags) => setExit(await auditCheckpoint(flags)),
  );
  clientFlags(
    audit
      .command('verify')
      .description('Verify an export offline (--events), or the running server: tree, signature, consistency')
      .option('--events <file>', 'a JSONL export to verify offline')
      .option('--checkpoint <file>', 'the checkpoint note the export should match')
      .option('--key <key>', 'the verifier key string, or a file holding it')
      .option('--old-checkpoint <file>', 'an earlier checkpoint the log must be consistent with'),
  ).action(async (flags: VerifyFlags) => setExit(await auditVerify(flags)));
  clientFlags(
    audit
      .command('report')
      .description('An evidence summary for auditors, built from a fresh checkpoint')
      .option('--since <when>', 'start of the window (date, timestamp or duration back)', '30d')
      .option('--until <when>', 'end of the window (default: now)')
      .option('--format <format>', 'md or json', 'md'),
  ).action(async (flags: ReportFlags) => setExit(await auditReport(flags)));
}
