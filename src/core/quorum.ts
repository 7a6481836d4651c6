import type { RequireMinimum } from './types.js';

export interface Approver {
  personId: string;
  groups: readonly string[];
}

export interface QuorumProgress {
  met: boolean;
  /** Distinct people who approved. */
  approvals: number;
  quorum: number;
  /** Per-group minimums and how many of them a valid assignment fills. */
  require: { group: string; count: number; filled: number }[];
}

/**
 * Decides whether approvals meet a quorum of distinct people and per-group minimums.
 *
 * One person fills at most one group slot, so the group minimums are a bipartite matching
 * between people and slots (Kuhn's augmenting paths): a greedy assignment can fail where a
 * valid one exists, e.g. Ann in {sre, dba} taken by sre while only she could fill dba.
 */
export function quorumProgress(
  spec: { quorum: number; require: readonly RequireMinimum[] },
  approvals: readonly Approver[],
): QuorumProgress {
  const people = distinctPeople(approvals);
  const slots: string[] = [];
  for (const r of spec.require) for (let i = 0; i < r.count; i++) slots.push(r.group);

  const slotOwner: (number | undefined)[] = new Array<number | undefined>(slots.length).fill(undefined);
  const tryAssign = (person: number, seen: boolean[]): boolean => {
    const groups = people[person]?.groups ?? [];
    for (let s = 0; s < slots.length; s++) {
      if (seen[s] || !groups.includes(slots[s] as string)) continue;
      seen[s] = true;
      const holder = slotOwner[s];
      if (holder === undefined || tryAssign(holder, seen)) {
        slotOwner[s] = person;
        return true;
      }
    }
    return false;
  };
  for (let p = 0; p < people.length; p++) tryAssign(p, new Array<boolean>(slots.length).fill(false));

  const require = spec.require.map((r) => ({
    group: r.group,
    count: r.count,
    filled: slots.filter((g, s) => g === r.group && slotOwner[s] !== undefined).length,
  }));
  const groupsMet = require.every((r) => r.filled >= r.count);
  return {
    met: people.length >= spec.quorum && groupsMet,
    approvals: people.length,
    quorum: spec.quorum,
    require,
  };
}

function distinctPeople(approvals: readonly Approver[]): Approver[] {
  const byPerson = new Map<string, Approver>();
  for (const a of approvals) if (!byPerson.has(a.personId)) byPerson.set(a.personId, a);
  return [...byPerson.values()];
}
