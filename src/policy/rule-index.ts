import type { CompiledRule } from './evaluate.js';
import { subjectValue, type GuardCheck, type GuardSubject, type GuardView } from './guard.js';

/**
 * Which rules can match a request at all. Each rule whose guard has an indexable check is filed under
 * the literal(s) of one such check (the most selective one): `SUBJECT == "x"` / `SUBJECT in [...]` under
 * each literal, `SUBJECT.startsWith("x")` / `endsWith` under the affix, `"x" in requester.groups` under
 * the group. For a request, the candidates are the rules filed under a key its values hit, plus the
 * rules filed nowhere. A rule left out has a check that is certainly false for this request (its subject
 * is a string that the check rejects), so its guard would say FALSE: leaving it out changes nothing.
 * When a subject some index needs is not a string (a malformed request), every rule is a candidate.
 */
export interface RuleIndex {
  readonly size: number;
  readonly subjects: readonly SubjectIndex[];
  /** Group name → rules, for `"x" in requester.groups`; null when no rule is filed that way. */
  readonly groups: ReadonlyMap<string, Int32Array> | null;
  /** Rules filed nowhere, ascending. */
  readonly unindexed: Int32Array;
  /** Every rule, ascending: the candidates when the index cannot tell. */
  readonly all: Int32Array;
  /** Reused between evaluations (evaluation is synchronous); `busy` guards against re-entry. */
  readonly scratch: { busy: boolean; readonly seen: Uint8Array; readonly found: Int32Array };
}

interface SubjectIndex {
  readonly subject: GuardSubject;
  readonly exact: ReadonlyMap<string, Int32Array>;
  readonly prefix: ReadonlyMap<string, Int32Array>;
  /** The distinct prefix lengths, ascending. */
  readonly prefixLengths: Int32Array;
  readonly suffix: ReadonlyMap<string, Int32Array>;
  readonly suffixLengths: Int32Array;
}

const INDEXED_SUBJECTS: readonly GuardSubject[] = [
  'action',
  'environment',
  'resource',
  'requester.kind',
  'requester.name',
  'requester.email',
];

type Table = 'exact' | 'prefix' | 'suffix' | 'groups';

/** Where a check would be filed: the table and keys, or null when it cannot be indexed. */
function entriesOf(check: GuardCheck): { subject: GuardSubject; table: Table; keys: string[] } | null {
  if (check.kind === 'contains') return { subject: check.subject, table: 'groups', keys: [check.literal] };
  if (!INDEXED_SUBJECTS.includes(check.subject)) return null;
  switch (check.kind) {
    case 'equals':
      return { subject: check.subject, table: 'exact', keys: [check.literal] };
    case 'in':
      return { subject: check.subject, table: 'exact', keys: [...(check.set ?? [])] };
    case 'startsWith':
      return { subject: check.subject, table: 'prefix', keys: [check.literal] };
    case 'endsWith':
      return { subject: check.subject, table: 'suffix', keys: [check.literal] };
  }
}

export function ruleIndexOf(rules: readonly CompiledRule[]): RuleIndex {
  // How many rules could be filed under each key: a rule goes under its check with the fewest
  // co-filed rules (an affix such as "" or "k8s://" is hit by many requests, but that is rarer).
  const slot = (subject: GuardSubject, table: Table, key: string) => `${subject}\u0000${table}\u0000${key}`;
  const popularity = new Map<string, number>();
  for (const rule of rules) {
    for (const check of rule.guard.checks) {
      const entries = entriesOf(check);
      if (entries === null) continue;
      for (const key of new Set(entries.keys)) {
        const s = slot(entries.subject, entries.table, key);
        popularity.set(s, (popularity.get(s) ?? 0) + 1);
      }
    }
  }
  const filed = new Map<string, number[]>();
  const unindexed: number[] = [];
  const used = new Set<GuardSubject>();
  rules.forEach((rule, i) => {
    let best: { subject: GuardSubject; table: Table; keys: string[] } | null = null;
    let bestCost = Infinity;
    for (const check of rule.guard.checks) {
      const entries = entriesOf(check);
      if (entries === null) continue;
      const keys = [...new Set(entries.keys)];
      const cost = keys.reduce(
        (sum, key) => sum + (popularity.get(slot(entries.subject, entries.table, key)) ?? 0),
        0,
      );
      if (cost < bestCost) {
        best = { ...entries, keys };
        bestCost = cost;
      }
    }
    if (best === null) {
      unindexed.push(i);
      return;
    }
    // An empty key list (`action in []`) files the rule nowhere: it cannot match a string action. The
    // subject is still looked at: when it is not a string, the index cannot tell and every rule runs.
    used.add(best.subject);
    for (const key of best.keys) {
      const s = slot(best.subject, best.table, key);
      filed.set(s, [...(filed.get(s) ?? []), i]);
    }
  });

  const tables = new Map<string, Map<string, Int32Array>>();
  for (const [s, indexes] of filed) {
    const [subject, table, key] = s.split('\u0000') as [GuardSubject, Table, string];
    const name = `${subject}\u0000${table}`;
    const map = tables.get(name) ?? new Map<string, Int32Array>();
    tables.set(name, map);
    map.set(key, Int32Array.from(indexes));
  }
  const tableOf = (subject: GuardSubject, table: Table) =>
    tables.get(`${subject}\u0000${table}`) ?? new Map();
  const lengthsOf = (map: ReadonlyMap<string, Int32Array>) =>
    Int32Array.from(new Set([...map.keys()].map((k) => k.length))).sort();
  const subjects: SubjectIndex[] = [];
  for (const subject of INDEXED_SUBJECTS) {
    const exact = tableOf(subject, 'exact');
    const prefix = tableOf(subject, 'prefix');
    const suffix = tableOf(subject, 'suffix');
    if (!used.has(subject)) continue;
    subjects.push({
      subject,
      exact,
      prefix,
      prefixLengths: lengthsOf(prefix),
      suffix,
      suffixLengths: lengthsOf(suffix),
    });
  }
  const groups = used.has('requester.groups') ? tableOf('requester.groups', 'groups') : null;
  return {
    size: rules.length,
    subjects,
    groups,
    unindexed: Int32Array.from(unindexed),
    all: Int32Array.from(rules.keys()),
    scratch: { busy: false, seen: new Uint8Array(rules.length), found: new Int32Array(rules.length) },
  };
}

/**
 * Writes the indexes of the filed rules that are candidates for this request into `found`, ascending,
 * and returns how many; or -1 when the index cannot tell (every rule is a candidate). `seen` must be
 * all zeros, and is left so.
 */
export function candidatesOf(
  index: RuleIndex,
  activation: GuardView,
  groups: readonly string[] | null,
  seen: Uint8Array,
  found: Int32Array,
): number {
  let count = 0;
  let known = true;
  for (let s = 0; s < index.subjects.length && known; s++) {
    const subject = index.subjects[s] as SubjectIndex;
    const value = subjectValue(subject.subject, '', activation);
    if (value === undefined) {
      known = false;
      break;
    }
    if (subject.exact.size > 0) count = add(subject.exact.get(value), seen, found, count);
    for (let l = 0; l < subject.prefixLengths.length; l++) {
      const length = subject.prefixLengths[l] as number;
      if (length > value.length) break;
      count = add(subject.prefix.get(value.slice(0, length)), seen, found, count);
    }
    for (let l = 0; l < subject.suffixLengths.length; l++) {
      const length = subject.suffixLengths[l] as number;
      if (length > value.length) break;
      count = add(subject.suffix.get(value.slice(value.length - length)), seen, found, count);
    }
  }
  if (known && index.groups !== null) {
    if (groups === null) known = false;
    else
      for (let g = 0; g < groups.length; g++)
        count = add(index.groups.get(groups[g] as string), seen, found, count);
  }
  for (let j = 0; j < count; j++) seen[found[j] as number] = 0;
  if (!known) return -1;
  sortAscending(found, count);
  return count;
}

function add(rules: Int32Array | undefined, seen: Uint8Array, found: Int32Array, count: number): number {
  if (rules === undefined) return count;
  for (let j = 0; j < rules.length; j++) {
    const i = rules[j] as number;
    if (seen[i] === 0) {
      seen[i] = 1;
      found[count++] = i;
    }
  }
  return count;
}

function sortAscending(values: Int32Array, count: number): void {
  if (count > 16) {
    values.subarray(0, count).sort();
    return;
  }
  for (let i = 1; i < count; i++) {
    const v = values[i] as number;
    let j = i - 1;
    while (j >= 0 && (values[j] as number) > v) {
      values[j + 1] = values[j] as number;
      j--;
    }
    values[j + 1] = v;
  }
}
