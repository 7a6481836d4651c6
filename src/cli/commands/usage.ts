import type { Command } from 'commander';
import { clientFlags, clientFrom, type ClientFlags } from '../client-options.js';
import { EXIT, UsageError } from '../exit-codes.js';
import { printJson, processIo, reportError, table, type Io } from '../output.js';

const KEYS = ['principal', 'class', 'destination', 'action'];

export interface UsageFlags extends ClientFlags {
  since?: string;
  until?: string;
  by?: string;
}

/** `countersign usage`: which agents touched which classes of data, and where it went. */
export async function usageCommand(flags: UsageFlags, io: Io = processIo): Promise<number> {
  try {
    const by = (flags.by ?? 'principal,class').split(',').map((k) => k.trim());
    for (const k of by)
      if (!KEYS.includes(k)) throw new UsageError(`--by: unknown key ${k}; use ${KEYS.join(', ')}`);
    const report = await clientFrom(flags).usage({
      since: flags.since ?? '7d',
      ...(flags.until ? { until: flags.until } : {}),
      by,
    });
    if (flags.json) {
      printJson(io, report);
      return EXIT.APPROVED;
    }
    io.out(`Data usage ${report.since} → ${report.until}, by ${report.by.join(', ')}`);
    if (report.rows.length === 0) {
      io.out('No requests in this window.');
      return EXIT.APPROVED;
    }
    io.out(
      table([
        [...report.by.map((k) => k.toUpperCase()), 'REQUESTS', 'RECORDS', 'BYTES', 'EXTERNAL'],
        ...report.rows.map((r) => [
          ...report.by.map((k) => r.group[k] ?? '-'),
          String(r.requests),
          String(r.records),
          String(r.bytes),
          r.external > 0 ? `${r.external} ⚠` : '0',
        ]),
      ]),
    );
    const t = report.totals;
    io.out(
      `\nTotal: ${t.requests} requests, ${t.records} records, ${t.bytes} bytes; ${t.external} to external destinations.`,
    );
    if (report.externalDestinations.length > 0) {
      io.out('External destinations (not in dlp.trusted_destinations):');
      for (const d of report.externalDestinations) io.out(`  ${d.destination}  (${d.requests} requests)`);
    }
    return EXIT.APPROVED;
  } catch (err) {
    return reportError(io, err, Boolean(flags.json));
  }
}

export function registerUsageCommand(program: Command): void {
  clientFlags(
    program
      .command('usage')
      .description(
        'Data usage: which principals touched which classes of data, and where it went (admin/auditor)',
      )
      .option('--since <when>', 'ISO-8601 time or a duration back from now (default 7d)')
      .option('--until <when>', 'ISO-8601 time or a duration back from now (default now)')
      .option('--by <keys>', `group by: ${KEYS.join(',')} (default principal,class)`),
  ).action(async (flags: UsageFlags) => {
    process.exitCode = await usageCommand(flags);
  });
}
