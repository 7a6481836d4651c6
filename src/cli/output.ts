import { CountersignApiError } from '../client/index.js';
import { ConfigError } from '../config/config.js';
import { CountersignError } from '../core/errors.js';
import { EXIT, UsageError } from './exit-codes.js';

/** Where commands write; tests swap it to capture output. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  isTTY: boolean;
}

export const processIo: Io = {
  out: (t) => void process.stdout.write(t.endsWith('\n') ? t : `${t}\n`),
  err: (t) => void process.stderr.write(t.endsWith('\n') ? t : `${t}\n`),
  isTTY: Boolean(process.stdout.isTTY),
};

export function printJson(io: Io, value: unknown): void {
  io.out(JSON.stringify(value, null, 2));
}

/** Turns any failure into a one-line message (never a stack trace) and the exit code it deserves. */
export function reportError(io: Io, err: unknown, json: boolean): number {
  let code = 'ERROR';
  let message: string;
  let exit: number = EXIT.ERROR;
  if (err instanceof UsageError) {
    code = 'USAGE';
    message = err.message;
    exit = EXIT.USAGE;
  } else if (err instanceof CountersignApiError || err instanceof CountersignError) {
    code = err.code;
    message = err.message;
  } else if (err instanceof ConfigError) {
    code = 'CONFIG';
    message = err.message;
  } else if (err instanceof Error) {
    message = err.message;
  } else {
    message = String(err);
  }
  if (json) printJson(io, { error: { code, message } });
  else io.err(`error: ${code === 'ERROR' || code === 'USAGE' ? '' : `${code}: `}${message}`);
  return exit;
}

/** `2026-01-01T10:00:00Z` → `in 29m` / `3m ago`, for people reading at a glance. */
export function relativeTime(iso: string, now = Date.now()): string {
  const diff = new Date(iso).getTime() - now;
  const abs = Math.abs(diff);
  const text =
    abs < 60_000
      ? `${Math.round(abs / 1000)}s`
      : abs < 3_600_000
        ? `${Math.round(abs / 60_000)}m`
        : abs < 86_400_000
          ? `${Math.round(abs / 3_600_000)}h`
          : `${Math.round(abs / 86_400_000)}d`;
  return diff >= 0 ? `in ${text}` : `${text} ago`;
}

/** A plain text table: columns padded to their widest cell. */
export function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows
    .map((row) =>
      row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  '),
    )
    .join('\n');
}
