import { assignmentDetector } from './assignment-detector.js';
import { parseDlpConfig, type DlpConfig } from './config.js';
import { compileAllowlist, compileCustom, type CompiledCustom } from './custom-detectors.js';
import { DATA_DETECTORS } from './data-detectors.js';
import type { BuiltinDetector, Hit, Lead } from './detector.js';
import { formatJsonPath } from './json-path.js';
import { assignedSecretType, KeyKind, keyKind } from './key-names.js';
import { keywordBefore } from './chars.js';
import { LeadTable } from './lead-table.js';
import { SECRET_DETECTORS } from './secret-detectors.js';
import { TYPE_INFO } from './type-info.js';
import type { DlpClass, DlpFinding, DlpSeverity } from './types.js';

export interface Scanner {
  /** Scans every string in a JSON value; paths start at `rootPath` (default `$`). */
  scanJson(value: unknown, rootPath?: string): DlpFinding[];
  /** Scans one text; findings carry `path` (default `$`) and offsets into the text. */
  scanText(text: string, path?: string): DlpFinding[];
}

// Order matters where two triggers match at the same index: the specific formats come first,
// the key-word assignment (generic_api_key) last.
const ALL_BUILTINS: readonly BuiltinDetector[] = [...SECRET_DETECTORS, ...DATA_DETECTORS, assignmentDetector];

const AUTH_SCHEME = /^(?:Bearer|Basic|Token|token|bearer) +/;
const GENERIC = 'generic_api_key';

/**
 * Builds a scanner. A string is read once: at each position a lead table says which built-in triggers
 * could match there, only those run, and only trigger matches pay for validation. Throws DlpConfigError on
 * a bad config (naming the detector).
 */
export function createScanner(config?: DlpConfig): Scanner {
  const parsed = parseDlpConfig(config);
  const disabled = new Set<string>(parsed.disabled);
  // The assignment detector also reports aws_secret_access_key, so it stays while either type is on.
  const builtins = ALL_BUILTINS.filter((d) =>
    d === assignmentDetector
      ? !disabled.has('generic_api_key') || !disabled.has('aws_secret_access_key')
      : !disabled.has(d.type),
  );
  // Detectors that share a trigger form one group, tried in the order of ALL_BUILTINS at each position.
  const groups: {
    source: string;
    trigger: RegExp;
    members: { d: BuiltinDetector; pattern: RegExp | null }[];
  }[] = [];
  const leads: Lead[] = [];
  for (const d of builtins) {
    let g = groups.find((x) => x.source === d.trigger);
    if (!g) {
      groups.push((g = { source: d.trigger, trigger: new RegExp(d.trigger, 'y'), members: [] }));
      leads.push(d.lead);
    }
    g.members.push({ d, pattern: d.pattern === undefined ? null : new RegExp(d.pattern, 'y') });
  }
  const leadTable = new LeadTable(leads);
  const custom: CompiledCustom[] = compileCustom(parsed.detectors);
  const allowed = compileAllowlist(parsed.allowlist);
  const enabled = (type: string) => !disabled.has(type);
  const hit: Hit = { type: '', start: 0, end: 0, resume: 0 };

  function push(out: DlpFinding[], text: string, type: string, start: number, end: number): void {
    if (!enabled(type)) return;
    if (allowed !== null && allowed(text.slice(start, end))) return;
    const info = TYPE_INFO[type]!;
    out.push(finding(type, info.severity, info.class, start, end));
  }

  function confirmGroup(text: string, index: number, triggerEnd: number, g: number): boolean {
    for (const { d, pattern } of groups[g]!.members) {
      if (pattern === null) {
        if (d.confirm(text, index, triggerEnd, hit)) return true;
        continue;
      }
      // A number trigger may start at `(` or `+`, which only phone numbers include.
      for (let at = index; at <= index + 1; at++) {
        pattern.lastIndex = at;
        if (pattern.test(text) && d.confirm(text, at, pattern.lastIndex, hit)) return true;
        const c = text.charCodeAt(at);
        if (c !== 40 && c !== 43) break;
      }
    }
    return false;
  }

  /** Tries the groups in `candidates` (a bit set, lowest group first) whose trigger matches at `index`. */
  function confirmAt(text: string, index: number, candidates: number): boolean {
    for (let bits = candidates; bits !== 0; bits &= bits - 1) {
      const g = 31 - Math.clz32(bits & -bits);
      const re = groups[g]!.trigger;
      re.lastIndex = index;
      if (re.test(text) && confirmGroup(text, index, re.lastIndex, g)) return true;
    }
    return false;
  }

  /**
   * Scans one string and appends its findings, in offset order and without their path, to `out` (shared
   * by all the strings of a document, so that a string without findings allocates nothing); `key` is the
   * JSON member name it is the value of, if any.
   */
  function scanString(text: string, key: string | undefined, out: DlpFinding[]): void {
    const from = out.length;
    for (let i = leadTable.find(text, 0); i >= 0;) {
      if (confirmAt(text, i, leadTable.groups)) {
        push(out, text, hit.type, hit.start, hit.end);
        i = leadTable.find(text, Math.max(hit.resume, i + 1));
      } else {
        i = leadTable.find(text, i + 1);
      }
    }
    if (key !== undefined && out.length === from) {
      const kind = keyKind(key);
      if (kind !== KeyKind.None) {
        let start = 0;
        let end = text.length;
        while (start < end && text.charCodeAt(start) <= 32) start++;
        while (end > start && text.charCodeAt(end - 1) <= 32) end--;
        const scheme = AUTH_SCHEME.exec(text.slice(start, Math.min(end, start + 8)));
        if (scheme) start += scheme[0].length;
        const type = assignedSecretType(text, start, end, kind);
        if (type !== null) push(out, text, type, start, end);
      }
    }
    for (const d of custom) scanCustom(d, text, out);
    if (out.length - from > 1) {
      // A loop, not push(...): a long text can have more findings than a call takes arguments.
      for (const f of tidy(out.splice(from))) out.push(f);
    }
  }

  function scanCustom(d: CompiledCustom, text: string, out: DlpFinding[]): void {
    const re = d.regex;
    re.lastIndex = 0;
    let m: RegExpExecArray | null;
    while ((m = re.exec(text)) !== null) {
      const start = m.index;
      const end = start + m[0].length;
      if (end === start) {
        re.lastIndex++;
        continue;
      }
      if (d.keywords !== null && !keywordBefore(text, start, d.window, d.keywords)) continue;
      if (d.validate !== null && !d.validate(text, start, end)) continue;
      if (allowed !== null && allowed(text.slice(start, end))) continue;
      out.push(finding(d.type, d.severity, d.class, start, end));
    }
  }

  return {
    scanText(text, path = '$') {
      const findings: DlpFinding[] = [];
      scanString(text, undefined, findings);
      for (const f of findings) f.path = path;
      return findings;
    },
    scanJson(value, rootPath = '$') {
      const findings: DlpFinding[] = [];
      const stack: (string | number)[] = [];
      const scanLeaf = (text: string, key: string | undefined): void => {
        const from = findings.length;
        scanString(text, key, findings);
        if (findings.length > from) {
          const path = formatJsonPath(stack, rootPath);
          for (let i = from; i < findings.length; i++) findings[i]!.path = path;
        }
      };
      // Strings are scanned where they are met, and numbers, booleans and null skipped there: most values
      // are leaves, and this saves a call per leaf.
      const walk = (node: object, key: string | undefined): void => {
        if (Array.isArray(node)) {
          for (let i = 0; i < node.length; i++) {
            const v: unknown = node[i];
            if (typeof v !== 'string' && (typeof v !== 'object' || v === null)) continue;
            stack.push(i);
            if (typeof v === 'string') scanLeaf(v, key);
            else walk(v, key);
            stack.pop();
          }
          return;
        }
        // for…in with an own-property check visits what Object.keys lists, without allocating its array.
        for (const k in node) {
          if (!Object.hasOwn(node, k)) continue;
          const v: unknown = (node as Record<string, unknown>)[k];
          if (typeof v !== 'string' && (typeof v !== 'object' || v === null)) continue;
          stack.push(k);
          if (typeof v === 'string') scanLeaf(v, k);
          else walk(v, k);
          stack.pop();
        }
      };
      if (typeof value === 'string') scanLeaf(value, undefined);
      else if (typeof value === 'object' && value !== null) walk(value, undefined);
      return findings;
    },
  };
}

/**
 * A finding whose `path` the caller fills in once the string turns out to have findings: built once, in
 * the documented key order (type, severity, class, path, start, end).
 */
function finding(type: string, severity: DlpSeverity, cls: DlpClass, start: number, end: number): DlpFinding {
  return { type, severity, class: cls, path: '', start, end };
}

/**
 * Sorts by offset, drops exact repeats, and drops a generic_api_key that overlaps a more specific finding.
 * One pass after the sort: comparing every generic finding with every other one was quadratic, which a
 * long text with many findings (scanText over a whole document) paid for.
 */
function tidy(hits: DlpFinding[]): DlpFinding[] {
  hits.sort((a, b) => a.start - b.start || b.end - a.end);
  const kept: DlpFinding[] = [];
  // The furthest end of the specific findings sorted before `h`, which start where `h` does or earlier:
  // one of them overlaps the (never empty) generic `h` exactly when it ends after `h` starts.
  let specificEnd = -1;
  for (let i = 0; i < hits.length; i++) {
    const h = hits[i]!;
    const prev = hits[i - 1];
    const repeat = prev !== undefined && prev.start === h.start && prev.end === h.end && prev.type === h.type;
    if (h.type !== GENERIC) {
      specificEnd = Math.max(specificEnd, h.end);
      if (!repeat) kept.push(h);
    } else if (!repeat && specificEnd <= h.start && !specificStartsInside(hits, i)) {
      kept.push(h);
    }
  }
  return kept;
}

/** True when a specific finding sorted after `hits[i]` overlaps it (so starts before it ends). */
function specificStartsInside(hits: readonly DlpFinding[], i: number): boolean {
  const h = hits[i]!;
  for (let j = i + 1; j < hits.length && hits[j]!.start < h.end; j++) {
    const o = hits[j]!;
    if (o.type !== GENERIC && h.start < o.end) return true;
  }
  return false;
}
