import { existsSync, readFileSync, statSync } from 'node:fs';
import { verifyLogFile, type VerifyLogResult } from '../../audit/verify-log.js';
import { EXIT, UsageError } from '../exit-codes.js';
import { printJson, processIo, reportError, type Io } from '../output.js';

export interface AuditVerifyOfflineOptions {
  events: string;
  checkpoint: string;
  key: string;
  oldCheckpoint?: string;
  json?: boolean;
}

function readNote(path: string, flag: string): string {
  if (!existsSync(path) || !statSync(path).isFile()) throw new UsageError(`${flag}: no such file ${path}`);
  return readFileSync(path, 'utf8');
}

/** `--key` is the verifier key string itself, or a file holding it (C2SP keys contain '+', never '/'-only paths). */
function readKey(value: string): string {
  if (existsSync(value) && statSync(value).isFile()) return readFileSync(value, 'utf8').trim();
  return value.trim();
}

function print(io: Io, r: VerifyLogResult): void {
  const cp = r.checkpoint;
  if (r.ok) {
    io.out(
      `OK: ${r.events} events verified against checkpoint ${cp?.origin} size ${cp?.size} root ${r.root}`,
    );
    if (r.oldCheckpoint)
      io.out(`OK: the log only grew since the old checkpoint (size ${r.oldCheckpoint.size})`);
  } else {
    io.out(
      `INVALID: ${r.problems.length} problem${r.problems.length === 1 ? '' : 's'} in ${r.events} events`,
    );
    for (const p of r.problems) io.out(`  [${p.check}] ${p.message}`);
  }
  for (const n of r.notes) io.out(`note: ${n}`);
}

/**
 * `countersign audit verify --events FILE --checkpoint NOTE_FILE --key VERIFIER_KEY [--old-checkpoint NOTE_FILE]`:
 * exit 0 when the export verifies, 1 when it does not (or on error), 2 on bad usage.
 */
export async function auditVerifyOffline(
  opts: AuditVerifyOfflineOptions,
  io: Io = processIo,
): Promise<number> {
  const json = opts.json ?? false;
  try {
    if (!opts.events) throw new UsageError('--events is required (a JSON Lines export)');
    if (!opts.checkpoint) throw new UsageError('--checkpoint is required (a checkpoint note file)');
    if (!opts.key) throw new UsageError("--key is required (the log's verifier key, or a file holding it)");
    if (!existsSync(opts.events)) throw new UsageError(`--events: no such file ${opts.events}`);
    const checkpoint = readNote(opts.checkpoint, '--checkpoint');
    const oldCheckpoint = opts.oldCheckpoint ? readNote(opts.oldCheckpoint, '--old-checkpoint') : undefined;
    const started = Date.now();
    const progress =
      io.isTTY && !json ? (n: number) => io.err(`verifying… ${n.toLocaleString('en-US')} events`) : undefined;
    const result = await verifyLogFile(opts.events, {
      checkpoint,
      key: readKey(opts.key),
      ...(oldCheckpoint !== undefined ? { oldCheckpoint } : {}),
      ...(progress ? { onProgress: progress, progressEvery: 250_000 } : {}),
    });
    if (json) printJson(io, { ...result, seconds: (Date.now() - started) / 1000 });
    else print(io, result);
    return result.ok ? EXIT.APPROVED : EXIT.ERROR;
  } catch (err) {
    return reportError(io, err, json);
  }
}
