import type { Command } from 'commander';
import type { ActionRequestView } from '../../client/index.js';
import { parseDuration } from '../../core/duration.js';
import { clientFlags, clientFrom, type ClientFlags } from '../client-options.js';
import { EXIT, UsageError } from '../exit-codes.js';
import { formatRequest } from '../format-request.js';
import { printJson, processIo, reportError, relativeTime, table, type Io } from '../output.js';
import { parseParams } from '../params.js';

/** Exit code of DESIGN.md for a request's status: anything not approved is non-zero (fail closed). */
export function exitFor(status: ActionRequestView['status']): number {
  switch (status) {
    case 'approved':
      return EXIT.APPROVED;
    case 'denied':
      return EXIT.DENIED;
    default:
      // expired, cancelled, or still pending (not waited for, or the wait timed out)
      return EXIT.NOT_APPROVED;
  }
}

export interface RequestFlags extends ClientFlags {
  action?: string;
  resource?: string;
  env?: string;
  param?: string[];
  paramsJson?: string;
  reason?: string;
  onBehalfOf?: string;
  wait?: boolean;
  timeout?: string;
  idempotencyKey?: string;
}

export async function requestCommand(flags: RequestFlags, io: Io = processIo): Promise<number> {
  try {
    if (!flags.action) throw new UsageError('--action is required, e.g. --action service.restart');
    let timeoutMs = 15 * 60_000;
    if (flags.timeout !== undefined) {
      const ms = /^\d+$/.test(flags.timeout) ? Number(flags.timeout) * 1000 : parseDuration(flags.timeout);
      if (ms === null)
        throw new UsageError(`--timeout must be seconds or a duration such as 10m, got ${flags.timeout}`);
      timeoutMs = ms;
    }
    const parameters = parseParams(flags.param ?? [], flags.paramsJson);
    const client = clientFrom(flags);
    let req = await client.submit(
      {
        action: flags.action,
        resource: flags.resource ?? '',
        environment: flags.env ?? '',
        parameters,
        reason: flags.reason ?? null,
        onBehalfOf: flags.onBehalfOf ?? null,
      },
      flags.idempotencyKey ? { idempotencyKey: flags.idempotencyKey } : {},
    );
    if (flags.wait && req.status === 'pending') {
      if (!flags.json)
        io.err(`${req.id} is pending approval; waiting up to ${Math.round(timeoutMs / 1000)}s…`);
      let told = false;
      req = await client.wait(req.id, timeoutMs, {
        // Said once: the gateway is restarting, or its store is unavailable; the wait goes on.
        onRetry: (err) => {
          if (!flags.json && !told) io.err(`${err.message}; still waiting, trying again…`);
          told = true;
        },
      });
    }
    if (flags.json) printJson(io, req);
    else io.out(formatRequest(req));
    if (!flags.json && req.status === 'pending' && flags.wait) io.err('timed out waiting for a decision');
    return exitFor(req.status);
  } catch (err) {
    return reportError(io, err, Boolean(flags.json));
  }
}

export async function pendingCommand(flags: ClientFlags, io: Io = processIo): Promise<number> {
  try {
    const list = await clientFrom(flags).list({ status: 'pending' });
    if (flags.json) {
      printJson(io, { requests: list });
      return EXIT.APPROVED;
    }
    if (list.length === 0) {
      io.out('Nothing pending for you.');
      return EXIT.APPROVED;
    }
    const now = Date.now();
    io.out(
      table([
        ['ID', 'ACTION', 'RESOURCE', 'ENV', 'REQUESTER', 'APPROVALS', 'EXPIRES', 'REASON'],
        ...list.map((r) => [
          r.id,
          r.action,
          r.resource || '-',
          r.environment || '-',
          r.requester.name + (r.onBehalfOf ? ` for ${r.onBehalfOf.email}` : ''),
          r.approval
            ? `${r.approval.reviews.filter((v) => v.verdict === 'approve').length}/${r.approval.quorum}`
            : '-',
          r.approval ? relativeTime(r.approval.expiresAt, now) : '-',
          (r.reason ?? '').slice(0, 60),
        ]),
      ]),
    );
    return EXIT.APPROVED;
  } catch (err) {
    return reportError(io, err, Boolean(flags.json));
  }
}

export async function reviewCommand(
  verdict: 'approve' | 'deny',
  id: string,
  flags: ClientFlags & { comment?: string },
  io: Io = processIo,
): Promise<number> {
  try {
    if (verdict === 'deny' && !flags.comment?.trim()) {
      throw new UsageError('deny needs --comment "why": the requester and the audit log get the reason');
    }
    const client = clientFrom(flags);
    const req =
      verdict === 'approve' ? await client.approve(id, flags.comment) : await client.deny(id, flags.comment);
    if (flags.json) printJson(io, req);
    else {
      const mine = req.approval?.reviews.at(-1);
      io.out(
        `${verdict === 'approve' ? 'Approved' : 'Denied'} ${req.id}${mine ? ` as ${mine.reviewer.email ?? mine.reviewer.name}` : ''}.`,
      );
      io.out(formatRequest(req));
    }
    return EXIT.APPROVED;
  } catch (err) {
    return reportError(io, err, Boolean(flags.json));
  }
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerRequestCommands(program: Command): void {
  clientFlags(
    program
      .command('request')
      .description(
        'Submit an action request; with --wait, wait for the decision (exit 0 approved, 3 denied, 4 not approved)',
      )
      .option('--action <name>', 'dotted action name, e.g. service.restart')
      .option('--resource <uri>', 'the resource acted on, e.g. k8s://prod/deploy/api')
      .option('--env <environment>', 'environment, e.g. production')
      .option('--param <k=v>', 'a parameter (repeatable; JSON values allowed; a.b=1 nests)', collect)
      .option('--params-json <json>', 'all parameters as one JSON object')
      .option('--reason <text>', 'why this action is needed')
      .option('--on-behalf-of <email>', 'the person the agent acts for')
      .option('--idempotency-key <key>', 'a retry with the same key returns the same request')
      .option('--wait', 'wait until the request is decided')
      .option('--timeout <duration>', 'how long --wait waits: seconds or 10m, 1h (default 15m)'),
  ).action(async (flags: RequestFlags) => {
    process.exitCode = await requestCommand(flags);
  });
  clientFlags(program.command('pending').description('List the requests waiting for your review')).action(
    async (flags: ClientFlags) => {
      process.exitCode = await pendingCommand(flags);
    },
  );
  clientFlags(
    program
      .command('approve')
      .description('Approve a pending request')
      .argument('<id>', 'request id')
      .option('--comment <text>', 'a note for the requester and the audit log'),
  ).action(async (id: string, flags: ClientFlags & { comment?: string }) => {
    process.exitCode = await reviewCommand('approve', id, flags);
  });
  clientFlags(
    program
      .command('deny')
      .description('Deny a pending request (one eligible deny settles it)')
      .argument('<id>', 'request id')
      .option('--comment <text>', 'why (required)'),
  ).action(async (id: string, flags: ClientFlags & { comment?: string }) => {
    process.exitCode = await reviewCommand('deny', id, flags);
  });
}
