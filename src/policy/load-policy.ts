import { readFile } from 'node:fs/promises';
import { isMap, isScalar, LineCounter, parseDocument, type Document } from 'yaml';
import type * as z from 'zod';
import { sha256Hex } from '../core/digest.js';
import type { PolicyDecision } from '../core/types.js';
import { compileCondition, type Condition } from './cel.js';
import { evaluateRules, ruleSetOf, type CompiledRule } from './evaluate.js';
import type { Guard } from './guard.js';
import { PolicyError } from './policy-error.js';
import { policySchema, toApprovalSpec, type PolicyFile } from './schema.js';
import type { CompiledPolicy, PolicyInput, PolicyProblem } from './types.js';

type Path = readonly PropertyKey[];

/** Reads, validates and compiles a policy file. Throws PolicyError listing every problem found. */
export async function loadPolicyFile(path: string): Promise<CompiledPolicy> {
  let source: string;
  try {
    source = await readFile(path, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new PolicyError(path, [
      { rule: null, line: null, path: '', message: `cannot read the file (${reason})` },
    ]);
  }
  return loadPolicy(source, path);
}

/** Validates and compiles policy YAML. `fileName` only labels problems. Throws PolicyError. */
export function loadPolicy(source: string, fileName = 'policy.yaml'): CompiledPolicy {
  const lines = new LineCounter();
  const doc = parseDocument(source, { lineCounter: lines, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new PolicyError(
      fileName,
      doc.errors.map((e) => ({
        rule: null,
        line: e.linePos?.[0].line ?? null,
        path: '',
        message: `YAML syntax error: ${(e.message.split('\n')[0] ?? e.message).replace(/ at line \d+, column \d+:?$/, '')}`,
      })),
    );
  }
  const raw: unknown = doc.toJS({ maxAliasCount: 100 });
  const locate = locator(doc, lines, raw);
  const problems: PolicyProblem[] = [];

  const parsed = policySchema.safeParse(raw, { error: (issue) => friendlyMessage(issue) });
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) {
          problems.push(locate([...issue.path, key], `unknown key "${key}"${suggestion(key, issue.path)}`));
        }
      } else {
        problems.push(locate(issue.path, issue.message));
      }
    }
  }

  // Conditions are checked from the raw data too, so one run reports schema and CEL problems together.
  const conditions = new Map<number, { condition: Condition; guard: Guard }>();
  const rawRules = isRecord(raw) && Array.isArray(raw.rules) ? (raw.rules as unknown[]) : [];
  const names = new Map<string, number>();
  rawRules.forEach((r, i) => {
    if (!isRecord(r)) return;
    if (typeof r.name === 'string' && r.name !== '') {
      const first = names.get(r.name);
      if (first === undefined) names.set(r.name, i);
      else problems.push(locate(['rules', i, 'name'], `duplicate rule name (first used by rules[${first}])`));
    }
    if (typeof r.when !== 'string' || r.when.trim() === '') return;
    const compiled = compileCondition(r.when);
    if (compiled.ok) conditions.set(i, { condition: compiled.condition, guard: compiled.guard });
    else problems.push(locate(['rules', i, 'when'], compiled.message));
  });

  if (problems.length > 0 || !parsed.success) {
    problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
    throw new PolicyError(fileName, problems);
  }
  return compile(parsed.data, conditions, `sha256:${sha256Hex(source)}`);
}

function compile(
  file: PolicyFile,
  conditions: Map<number, { condition: Condition; guard: Guard }>,
  version: string,
): CompiledPolicy {
  const defaultApproval =
    file.defaults.approval === undefined ? null : toApprovalSpec(file.defaults.approval);
  const rules: CompiledRule[] = file.rules.map((r, i) => {
    const approval =
      r.effect !== 'require_approval'
        ? null
        : r.approval === undefined
          ? defaultApproval
          : toApprovalSpec(r.approval);
    const when = r.when.replace(/\s+/g, ' ').trim();
    const reason = r.reason === undefined || r.reason.trim() === '' ? '' : ` — ${r.reason.trim()}`;
    // Only the decision leaves this module, so only it is frozen (frozen objects cost on the hot path).
    return {
      name: r.name,
      effect: r.effect,
      ...(conditions.get(i) as { condition: Condition; guard: Guard }),
      decision: deepFreeze({
        effect: r.effect,
        rule: r.name,
        explanation: `rule "${r.name}" matched: ${when}${reason}`,
        approval,
        mask: r.mask,
        notify: r.notify,
      }),
    };
  });
  const defaults: PolicyDecision = deepFreeze({
    effect: file.defaults.effect,
    rule: null,
    explanation: `no rule matched; default effect ${file.defaults.effect}`,
    approval: file.defaults.effect === 'require_approval' ? defaultApproval : null,
    mask: [],
    notify: [],
  });
  const ruleNames = Object.freeze(rules.map((r) => r.name));
  const ruleSet = ruleSetOf(rules);
  const notifyTargets = Object.freeze(
    rules.flatMap((r) => r.decision.notify.map((target) => Object.freeze({ rule: r.name, target }))),
  );
  return Object.freeze({
    version,
    ruleNames,
    notifyTargets,
    evaluate: (input: PolicyInput) => evaluateRules(ruleSet, defaults, input),
  });
}

/** Maps a path in the parsed data back to the line of its YAML node (or of the nearest node that exists). */
function locator(doc: Document, lines: LineCounter, raw: unknown) {
  return (path: Path, message: string): PolicyProblem => {
    const segments = path.filter((p): p is string | number => typeof p !== 'symbol');
    let line: number | null = null;
    for (let n = segments.length; n >= 0 && line === null; n--) {
      line = lineOf(doc, lines, segments.slice(0, n));
    }
    const ruleIndex = segments[0] === 'rules' && typeof segments[1] === 'number' ? segments[1] : null;
    let rule: string | null = null;
    if (ruleIndex !== null && isRecord(raw) && Array.isArray(raw.rules)) {
      const r: unknown = raw.rules[ruleIndex];
      rule = isRecord(r) && typeof r.name === 'string' && r.name !== '' ? r.name : `#${ruleIndex + 1}`;
    }
    return { rule, line, path: dotted(segments), message };
  };
}

// A keyed field reports the line of its key: for a block list or mapping that is where a reader looks.
function lineOf(doc: Document, lines: LineCounter, path: (string | number)[]): number | null {
  const last = path[path.length - 1];
  if (typeof last === 'string') {
    const parent: unknown = path.length === 1 ? doc.contents : doc.getIn(path.slice(0, -1), true);
    if (!isMap(parent)) return null;
    const pair = parent.items.find((p) => isScalar(p.key) && p.key.value === last);
    const range = pair && isScalar(pair.key) ? pair.key.range : undefined;
    return range ? lines.linePos(range[0]).line : null;
  }
  const node: unknown = path.length === 0 ? doc.contents : doc.getIn(path, true);
  const range = (node as { range?: [number, number, number] } | null | undefined)?.range;
  return range ? lines.linePos(range[0]).line : null;
}

function dotted(path: (string | number)[]): string {
  return path.reduce<string>(
    (s, p) => (typeof p === 'number' ? `${s}[${p}]` : s === '' ? p : `${s}.${p}`),
    '',
  );
}

function friendlyMessage(issue: z.core.$ZodRawIssue): string | undefined {
  if (issue.code === 'invalid_type' && issue.input === undefined) return 'is required';
  if (issue.code === 'invalid_type') return `must be ${article(issue.expected)}`;
  return undefined;
}

function article(expected: string): string {
  if (expected === 'object') return 'a mapping (key: value)';
  if (expected === 'array') return 'a list';
  return /^[aeiou]/.test(expected) ? `an ${expected}` : `a ${expected}`;
}

const KNOWN_KEYS: Record<string, string[]> = {
  top: ['version', 'defaults', 'rules'],
  defaults: ['effect', 'approval'],
  rule: ['name', 'when', 'effect', 'reason', 'approval', 'mask', 'notify'],
  approval: ['approvers', 'quorum', 'require', 'timeout', 'on_timeout', 'grant', 'step_up'],
  grant: ['ttl', 'uses'],
  require: ['group', 'count'],
};

function suggestion(key: string, path: Path): string {
  const last = path[path.length - 1];
  const kind =
    path.length === 0
      ? 'top'
      : last === 'defaults'
        ? 'defaults'
        : last === 'approval'
          ? 'approval'
          : last === 'grant'
            ? 'grant'
            : path[path.length - 2] === 'require'
              ? 'require'
              : path[0] === 'rules' && path.length === 2
                ? 'rule'
                : null;
  const candidates = kind === null ? [] : (KNOWN_KEYS[kind] ?? []);
  const best = candidates.find((c) => editDistance(c, key) <= 2);
  return best === undefined ? '' : ` (did you mean "${best}"?)`;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(
        (prev[j] ?? 0) + 1,
        (cur[j - 1] ?? 0) + 1,
        (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) if (typeof v !== 'function') deepFreeze(v);
  }
  return value;
}
