import type { Lead } from './detector.js';

// Every character from 128 up shares the last slot, and so does "no character" (before or after the
// text): lead classes name ASCII characters only, so all of those behave alike.
const OTHER = 128;
const SLOTS = OTHER + 1;
const NON_ASCII = '\u0080';

function slot(c: number): number {
  return c < OTHER ? c : OTHER;
}

/** Which slots a character class matches; an absent class matches every slot. */
function slotsOf(cls: string | undefined, other: boolean): boolean[] {
  const re = cls === undefined ? null : new RegExp(`^${cls}$`);
  const out: boolean[] = [];
  for (let c = 0; c < OTHER; c++) out.push(re === null || re.test(String.fromCharCode(c)));
  out.push(re === null || other);
  return out;
}

/**
 * Finds the positions where a trigger could match, from table lookups on the character there, the one after
 * and the one before: running the triggers' regex at every position cost more than half of a scan, while
 * almost every position fails one lookup. Each trigger group is one bit of the tables.
 */
export class LeadTable {
  /** Groups by (first character, second character) slot pair. */
  private readonly pairs = new Uint32Array(SLOTS * SLOTS);
  /** Groups by the slot of the character before. */
  private readonly before = new Uint32Array(SLOTS);
  /** The groups whose lead holds at the position `find` returned last. */
  groups = 0;

  /** One lead per trigger group; group `g` is bit `1 << g`. */
  constructor(leads: readonly Lead[]) {
    if (leads.length > 32) throw new Error('at most 32 trigger groups fit a lead table');
    leads.forEach((lead, g) => {
      const bit = 1 << g;
      const first = slotsOf(lead.first, new RegExp(`^${lead.first}$`).test(NON_ASCII));
      // Past the end no two-character trigger matches; a non-ASCII second character may.
      const second = slotsOf(
        lead.second,
        lead.second !== undefined && new RegExp(`^${lead.second}$`).test(NON_ASCII),
      );
      // The start of the text shares the non-ASCII slot, and a lookbehind never rules it out.
      const before = slotsOf(lead.before, true);
      for (let a = 0; a < SLOTS; a++) {
        if (before[a]) this.before[a]! |= bit;
        if (!first[a]) continue;
        for (let b = 0; b < SLOTS; b++) if (second[b]) this.pairs[a * SLOTS + b]! |= bit;
      }
    });
  }

  /** The first position from `from` on where some group's lead holds (and sets `groups`), or -1. */
  find(text: string, from: number): number {
    const n = text.length;
    if (from >= n) return -1;
    const pairs = this.pairs;
    const before = this.before;
    // Each character is read once and handed on (next → current → previous). Bounds are checked by hand,
    // and the last position is done after the loop: reading past either end (NaN) makes V8 deoptimize.
    let prev = from > 0 ? slot(text.charCodeAt(from - 1)) : OTHER;
    let cur = slot(text.charCodeAt(from));
    const last = n - 1;
    for (let i = from; i < last; i++) {
      const next = slot(text.charCodeAt(i + 1));
      const pair = pairs[cur * SLOTS + next]!;
      if (pair !== 0) {
        const groups = pair & before[prev]!;
        if (groups !== 0) {
          this.groups = groups;
          return i;
        }
      }
      prev = cur;
      cur = next;
    }
    this.groups = pairs[cur * SLOTS + OTHER]! & before[prev]!;
    return this.groups !== 0 ? last : -1;
  }
}
