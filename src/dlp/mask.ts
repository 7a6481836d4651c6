import { pathSegment } from './json-path.js';
import type { DlpFinding } from './types.js';

/** How many characters of a secret of `length` survive masking: at most 4, and at most a quarter. */
function kept(length: number): number {
  return Math.min(4, Math.floor(length / 4));
}

/**
 * Replaces each finding's span in `value` with its first few characters and the type, e.g.
 * `AKIAIOSFODNN7EXAMPLE` → `AKIA…[aws_access_key_id]`. Overlapping spans are masked as one.
 */
export function maskValue(
  value: string,
  findings: readonly { start: number; end: number; type: string }[],
): string {
  if (findings.length === 0) return value;
  const spans = findings
    .map((f) => ({ start: Math.max(0, f.start), end: Math.min(value.length, f.end), type: f.type }))
    .filter((f) => f.end > f.start)
    .sort((a, b) => a.start - b.start || b.end - a.end);
  let out = '';
  let pos = 0;
  for (let i = 0; i < spans.length; i++) {
    const span = spans[i]!;
    let end = span.end;
    while (i + 1 < spans.length && spans[i + 1]!.start < end) end = Math.max(end, spans[++i]!.end);
    const start = Math.max(span.start, pos);
    if (end <= start) continue;
    let keep = kept(end - start);
    // Never cut a surrogate pair in half.
    const last = value.charCodeAt(start + keep - 1);
    if (keep > 0 && last >= 0xd800 && last <= 0xdbff) keep--;
    out += value.slice(pos, start) + value.slice(start, start + keep) + `…[${span.type}]`;
    pos = end;
  }
  return out + value.slice(pos);
}

/** A masked deep copy of a JSON value: every string with findings at its path goes through maskValue. */
export function maskJson<T>(value: T, findings: readonly DlpFinding[], rootPath = '$'): T {
  const byPath = new Map<string, DlpFinding[]>();
  for (const f of findings) {
    const list = byPath.get(f.path);
    if (list) list.push(f);
    else byPath.set(f.path, [f]);
  }
  const copy = (node: unknown, path: string): unknown => {
    if (typeof node === 'string') {
      const here = byPath.get(path);
      return here ? maskValue(node, here) : node;
    }
    if (Array.isArray(node)) return node.map((v, i) => copy(v, path + pathSegment(i)));
    if (node !== null && typeof node === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(node)) out[k] = copy(v, path + pathSegment(k));
      return out;
    }
    return node;
  };
  return copy(value, rootPath) as T;
}

/** The sorted, de-duplicated classes of some findings, e.g. `['personal', 'secret']`. */
export function classesOf(findings: readonly { class: string }[]): string[] {
  return [...new Set(findings.map((f) => f.class))].sort();
}
