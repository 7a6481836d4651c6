import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { assignmentDetector } from '../../src/dlp/assignment-detector.js';
import { DATA_DETECTORS } from '../../src/dlp/data-detectors.js';
import { LeadTable } from '../../src/dlp/lead-table.js';
import { SECRET_DETECTORS } from '../../src/dlp/secret-detectors.js';

const BUILTINS = [...SECRET_DETECTORS, ...DATA_DETECTORS, assignmentDetector];

/** Every string of the labeled corpus (texts, JSON values and member names). */
function corpusStrings(): string[] {
  const out: string[] = [];
  const collect = (v: unknown): void => {
    if (typeof v === 'string') out.push(v);
    else if (Array.isArray(v)) v.forEach(collect);
    else if (v !== null && typeof v === 'object')
      for (const [k, x] of Object.entries(v)) {
        out.push(k);
        collect(x);
      }
  };
  for (const name of ['positives', 'negatives']) {
    const file = fileURLToPath(new URL(`./corpus/${name}.jsonl`, import.meta.url));
    for (const line of readFileSync(file, 'utf8').trim().split('\n')) {
      const e = JSON.parse(line);
      collect(e.text);
      collect(e.json);
    }
  }
  return out;
}

/** Seeded random strings over the characters the triggers are made of, so that triggers match often. */
function randomStrings(count: number, length: number): string[] {
  const alphabet =
    'AKSBCIiaza_gh-pousrtblxoyeJkdmfcn:/@=+(). \t"\'0123456789' + 'ABDEGLMNRSTVWXZ0123456789' + 'é😀\n';
  let seed = 1;
  const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  const out: string[] = [];
  for (let n = 0; n < count; n++) {
    let s = '';
    for (let i = 0; i < length; i++) s += alphabet[Math.floor(rand() * alphabet.length)];
    out.push(s);
  }
  return out;
}

describe('lead table', () => {
  it('tells first, second and previous character apart, with the ends of the text', () => {
    const t = new LeadTable([
      { first: 'e', second: 'y' },
      { first: '[0-9]', before: '[^0-9A-Za-z]' },
    ]);
    expect(t.find('hi eyJ', 0)).toBe(3);
    expect(t.groups).toBe(1);
    expect(t.find('ab1 2', 0)).toBe(4);
    expect(t.groups).toBe(2);
    expect(t.find('7', 0)).toBe(0); // the start of the text counts as a boundary
    expect(t.find('e', 0)).toBe(-1); // no second character
    expect(t.find('é1ey', 1)).toBe(1); // a non-ASCII character before is no letter
    expect(t.find('abc', 0)).toBe(-1);
  });

  // The scanner runs a trigger only where its lead holds, so a lead that leaves out a real trigger
  // match would lose findings: check each built-in lead against its trigger on many strings.
  it('holds wherever a built-in trigger matches', () => {
    const texts = [...corpusStrings(), ...randomStrings(3000, 40)];
    for (const d of BUILTINS) {
      const lead = new LeadTable([d.lead]);
      const trigger = new RegExp(d.trigger, 'y');
      let matches = 0;
      for (const text of texts) {
        for (let i = 0; i < text.length; i++) {
          trigger.lastIndex = i;
          if (!trigger.test(text)) continue;
          matches++;
          if (lead.find(text, i) !== i) expect.fail(`${d.type}: lead misses ${JSON.stringify(text)} at ${i}`);
        }
      }
      expect(matches, d.type).toBeGreaterThan(0);
    }
  });
});
