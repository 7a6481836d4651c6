import { isTrustedDestination } from './destinations.js';

/** The dimensions a usage report can group by. */
export const USAGE_KEYS = ['principal', 'class', 'destination', 'action'] as const;
export type UsageKey = (typeof USAGE_KEYS)[number];

/** What usage needs to know of a request: who, what, which data classes, and its declared data flow. */
export interface UsageSource {
  action: string;
  requester: { id: string; name: string };
  classes: readonly string[];
  /** `context.data` as submitted: `{source, destination, classes, records, bytes}`, any of them absent. */
  flow: unknown;
  status: string;
}

export interface UsageRow {
  /** The group's value for each `by` key (`-` where the request declared none). */
  group: Partial<Record<UsageKey, string>>;
  requests: number;
  records: number;
  bytes: number;
  /** Requests of this group whose destination is not trusted. */
  external: number;
}

export interface UsageReport {
  by: UsageKey[];
  rows: UsageRow[];
  totals: { requests: number; records: number; bytes: number; external: number };
  /** Every untrusted destination seen, with how many requests went there. */
  externalDestinations: { destination: string; requests: number }[];
}

interface Flow {
  destination: string | null;
  classes: string[];
  records: number;
  bytes: number;
}

function flowOf(raw: unknown): Flow {
  const f = raw !== null && typeof raw === 'object' ? (raw as Record<string, unknown>) : {};
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0);
  return {
    destination: typeof f.destination === 'string' && f.destination !== '' ? f.destination : null,
    classes: Array.isArray(f.classes) ? f.classes.filter((c): c is string => typeof c === 'string') : [],
    records: num(f.records),
    bytes: num(f.bytes),
  };
}

/** Whether a declared destination leaves the trusted perimeter (no destination: not a flow at all). */
export function isExternal(destination: string | null, trusted: readonly string[]): boolean {
  return destination !== null && !isTrustedDestination(destination, trusted);
}

/**
 * Groups requests by the chosen keys and adds up requests, records and bytes. A request with several
 * data classes (found by DLP or declared) counts once in each class's group, so class rows can add up to
 * more than the total; totals count each request once.
 */
export function aggregateUsage(
  sources: readonly UsageSource[],
  by: readonly UsageKey[],
  trusted: readonly string[],
): UsageReport {
  const rows = new Map<string, UsageRow>();
  const external = new Map<string, number>();
  const totals = { requests: 0, records: 0, bytes: 0, external: 0 };
  for (const s of sources) {
    const flow = flowOf(s.flow);
    const ext = isExternal(flow.destination, trusted);
    totals.requests++;
    totals.records += flow.records;
    totals.bytes += flow.bytes;
    if (ext && flow.destination !== null) {
      totals.external++;
      external.set(flow.destination, (external.get(flow.destination) ?? 0) + 1);
    }
    const classes = [...new Set([...s.classes, ...flow.classes])].sort();
    for (const cls of by.includes('class') ? (classes.length > 0 ? classes : ['-']) : [null]) {
      const group: Partial<Record<UsageKey, string>> = {};
      for (const k of by) {
        if (k === 'principal') group.principal = s.requester.name || s.requester.id;
        else if (k === 'action') group.action = s.action;
        else if (k === 'destination') group.destination = flow.destination ?? '-';
        else group.class = cls ?? '-';
      }
      const key = JSON.stringify(by.map((k) => group[k]));
      const row = rows.get(key) ?? { group, requests: 0, records: 0, bytes: 0, external: 0 };
      row.requests++;
      row.records += flow.records;
      row.bytes += flow.bytes;
      if (ext) row.external++;
      rows.set(key, row);
    }
  }
  return {
    by: [...by],
    rows: [...rows.values()].sort(
      (a, b) => b.requests - a.requests || JSON.stringify(a.group).localeCompare(JSON.stringify(b.group)),
    ),
    totals,
    externalDestinations: [...external]
      .map(([destination, requests]) => ({ destination, requests }))
      .sort((a, b) => b.requests - a.requests),
  };
}
