import type { Command } from 'commander';
import type { ApprovalSpec, PrincipalKind } from '../../core/types.js';
import { loadPolicyFile } from '../../policy/load-policy.js';
import { PolicyError } from '../../policy/policy-error.js';
import type { PolicyInput } from '../../policy/types.js';
import { EXIT, UsageError } from '../exit-codes.js';
import { printJson, processIo, reportError, type Io } from '../output.js';
import { parseParams } from '../params.js';

export interface CheckFlags {
  json?: boolean;
}

/** `policy check FILE`: 0 when the file loads, 1 with one problem per line when it does not. */
export async function policyCheckCommand(
  file: string,
  flags: CheckFlags,
  io: Io = processIo,
): Promise<number> {
  try {
    const policy = await loadPolicyFile(file);
    const rules = policy.ruleNames.length;
    if (flags.json) printJson(io, { valid: true, version: policy.version, rules });
    else
      io.out(`ok: ${file} is valid (${rules} ${rules === 1 ? 'rule' : 'rules'}, version ${policy.version})`);
    return EXIT.APPROVED;
  } catch (error) {
    return reportPolicyError(io, error, flags.json === true);
  }
}

export interface ExplainFlags {
  file?: string;
  action?: string;
  resource?: string;
  env?: string;
  param?: string[];
  paramsJson?: string;
  reason?: string;
  requesterKind?: string;
  requesterName?: string;
  requesterEmail?: string;
  groups?: string;
  json?: boolean;
}

const KINDS: readonly PrincipalKind[] = ['agent', 'human', 'service'];

/** Builds the what-if request `policy explain` evaluates from its flags. Throws UsageError. */
export function explainInput(flags: ExplainFlags, now: Date = new Date()): PolicyInput {
  if (!flags.action) throw new UsageError('--action is required, e.g. --action service.restart');
  const kind = (flags.requesterKind ?? 'agent') as PrincipalKind;
  if (!KINDS.includes(kind))
    throw new UsageError(`--requester-kind must be agent, human or service, got "${kind}"`);
  const name = flags.requesterName ?? 'policy-explain';
  return {
    action: flags.action,
    resource: flags.resource ?? '',
    environment: flags.env ?? '',
    parameters: parseParams(flags.param ?? [], flags.paramsJson),
    reason: flags.reason ?? null,
    context: {},
    requester: {
      id: name,
      kind,
      name,
      email: flags.requesterEmail ?? null,
      groups: (flags.groups ?? '')
        .split(',')
        .map((g) => g.trim())
        .filter((g) => g !== ''),
      attributes: {},
    },
    onBehalfOf: null,
    dlp: { findings: [], classes: [], external_destination: false },
    now,
  };
}

/** `policy explain`: which rule decides a hypothetical request, and why. Exit 0 whatever the effect. */
export async function policyExplainCommand(flags: ExplainFlags, io: Io = processIo): Promise<number> {
  try {
    if (!flags.file) throw new UsageError('--file is required, e.g. --file examples/policy.yaml');
    const input = explainInput(flags);
    const policy = await loadPolicyFile(flags.file);
    const { decision, trace } = policy.evaluate(input);
    if (flags.json) {
      printJson(io, { version: policy.version, decision, trace });
      return EXIT.APPROVED;
    }
    const lines = [
      `effect: ${decision.effect}`,
      `rule: ${decision.rule ?? '(none: defaults)'}`,
      `explanation: ${decision.explanation}`,
    ];
    if (decision.approval) lines.push(...approvalLines(decision.approval));
    if (decision.mask.length > 0) lines.push(`mask: ${decision.mask.join(', ')}`);
    if (decision.notify.length > 0) lines.push(`notify: ${decision.notify.join(', ')}`);
    lines.push(`policy: ${policy.version}`, 'trace:');
    for (const t of trace) {
      const outcome = t.outcome.replace('_', ' ');
      lines.push(`  ${t.rule} (${t.effect}): ${outcome}${t.error === undefined ? '' : `: ${t.error}`}`);
    }
    io.out(lines.join('\n'));
    return EXIT.APPROVED;
  } catch (error) {
    return reportPolicyError(io, error, flags.json === true);
  }
}

function approvalLines(a: ApprovalSpec): string[] {
  const lines = [
    'approval:',
    `  approvers: ${a.approvers.join(', ')}`,
    `  quorum: ${a.quorum} distinct ${a.quorum === 1 ? 'person' : 'people'}`,
  ];
  if (a.require.length > 0)
    lines.push(`  require: ${a.require.map((r) => `${r.count} from ${r.group}`).join(', ')}`);
  lines.push(`  timeout: ${formatDuration(a.timeoutMs)} (then ${a.onTimeout})`);
  if (a.grant) lines.push(`  grant: ${a.grant.uses} more use(s) within ${formatDuration(a.grant.ttlMs)}`);
  if (a.stepUp) lines.push('  step-up: approve on the web or through the API (chat approvals refused)');
  return lines;
}

/** 5_400_000 → `1h30m`: the inverse of parseDuration for whole units. */
export function formatDuration(ms: number): string {
  const units: [string, number][] = [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
    ['ms', 1],
  ];
  let rest = ms;
  let text = '';
  for (const [unit, size] of units) {
    if (rest >= size) {
      text += `${Math.floor(rest / size)}${unit}`;
      rest %= size;
    }
  }
  return text || '0s';
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerPolicyCommands(program: Command): void {
  const policy = program.command('policy').description('Check policy files and explain their decisions');
  policy
    .command('check')
    .description(
      'Validate a policy file: YAML, schema and every CEL condition (exit 1 with line-level problems)',
    )
    .argument('<file>', 'the policy YAML file')
    .option('--json', 'print {"valid", "version", "rules"} or {"valid": false, "problems"}')
    .action(async (file: string, flags: CheckFlags) => {
      process.exitCode = await policyCheckCommand(file, flags);
    });
  policy
    .command('explain')
    .description('Show which rule decides a hypothetical request, and why (nothing is submitted)')
    .option('--file <file>', 'the policy YAML file')
    .option('--action <name>', 'dotted action name, e.g. service.restart')
    .option('--resource <uri>', 'the resource acted on')
    .option('--env <environment>', 'environment, e.g. production')
    .option('--param <k=v>', 'a parameter (repeatable; JSON values allowed; a.b=1 nests)', collect)
    .option('--params-json <json>', 'all parameters as one JSON object')
    .option('--reason <text>', 'the request reason')
    .option('--requester-kind <kind>', 'agent | human | service (default agent)')
    .option('--requester-name <name>', 'requester display name (default policy-explain)')
    .option('--requester-email <email>', 'requester email')
    .option('--groups <list>', 'requester groups, comma-separated')
    .option('--json', 'print {"version", "decision", "trace"}')
    .action(async (flags: ExplainFlags) => {
      process.exitCode = await policyExplainCommand(flags);
    });
}

/** An invalid policy lists its problems (file:line: rule: what is wrong); anything else is a plain error. */
function reportPolicyError(io: Io, error: unknown, json: boolean): number {
  if (!(error instanceof PolicyError)) return reportError(io, error, json);
  if (json) printJson(io, { valid: false, problems: error.problems });
  else for (const line of error.lines()) io.err(line);
  return EXIT.ERROR;
}
