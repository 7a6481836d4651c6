import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BUILTIN_TYPES, createScanner } from '../../src/dlp/index.js';

// The labeled corpus (synthetic secrets only) comes from `node test/dlp/make-corpus.mjs`.
interface Entry {
  text?: string;
  json?: unknown;
  expect: string[];
}
const load = (name: string): Entry[] =>
  readFileSync(fileURLToPath(new URL(`./corpus/${name}.jsonl`, import.meta.url)), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Entry);

describe('DLP corpus', () => {
  const positives = load('positives');
  const negatives = load('negatives');
  const scanner = createScanner();

  it('has at least 300 positives (10+ per type) and 300 hard negatives', () => {
    expect(positives.length).toBeGreaterThanOrEqual(300);
    expect(negatives.length).toBeGreaterThanOrEqual(300);
    for (const type of BUILTIN_TYPES) {
      expect(positives.filter((e) => e.expect.includes(type)).length, type).toBeGreaterThanOrEqual(10);
    }
  });

  it('scores precision and recall >= 0.95 overall and per type', () => {
    const score = new Map<string, { tp: number; fp: number; fn: number }>();
    const row = (t: string) => score.get(t) ?? (score.set(t, { tp: 0, fp: 0, fn: 0 }), score.get(t)!);
    const misses: string[] = [];
    for (const e of [...positives, ...negatives]) {
      const found = e.json !== undefined ? scanner.scanJson(e.json) : scanner.scanText(e.text ?? '');
      const got = new Set(found.map((f) => f.type));
      const want = new Set(e.expect);
      for (const t of got) {
        if (want.has(t)) row(t).tp++;
        else row(t).fp++;
      }
      for (const t of want) if (!got.has(t)) row(t).fn++;
      if ([...got].sort().join() !== [...want].sort().join())
        misses.push(`want [${[...want].join()}] got [${[...got].join()}]`);
    }
    const ratio = (a: number, b: number) => (a + b === 0 ? 1 : a / (a + b));
    const total = { tp: 0, fp: 0, fn: 0 };
    const lines = ['type                     tp   fp   fn  precision  recall'];
    for (const type of BUILTIN_TYPES) {
      const s = row(type);
      total.tp += s.tp;
      total.fp += s.fp;
      total.fn += s.fn;
      lines.push(
        `${type.padEnd(24)} ${String(s.tp).padStart(3)}  ${String(s.fp).padStart(3)}  ${String(s.fn).padStart(3)}  ${ratio(s.tp, s.fp).toFixed(3).padStart(9)}  ${ratio(s.tp, s.fn).toFixed(3).padStart(6)}`,
      );
    }
    lines.push(
      `${'overall'.padEnd(24)} ${String(total.tp).padStart(3)}  ${String(total.fp).padStart(3)}  ${String(total.fn).padStart(3)}  ${ratio(total.tp, total.fp).toFixed(3).padStart(9)}  ${ratio(total.tp, total.fn).toFixed(3).padStart(6)}`,
    );
    console.log(
      `DLP corpus: ${positives.length} positives, ${negatives.length} negatives\n${lines.join('\n')}`,
    );
    if (misses.length > 0) console.log(misses.slice(0, 20).join('\n'));
    for (const type of BUILTIN_TYPES) {
      const s = row(type);
      expect(ratio(s.tp, s.fp), `${type} precision`).toBeGreaterThanOrEqual(0.95);
      expect(ratio(s.tp, s.fn), `${type} recall`).toBeGreaterThanOrEqual(0.95);
    }
    expect(ratio(total.tp, total.fp)).toBeGreaterThanOrEqual(0.95);
    expect(ratio(total.tp, total.fn)).toBeGreaterThanOrEqual(0.95);
  });

  it('never puts a value into a finding', () => {
    for (const e of positives.slice(0, 100)) {
      const found = e.json !== undefined ? scanner.scanJson(e.json) : scanner.scanText(e.text ?? '');
      for (const f of found)
        expect(Object.keys(f).sort()).toEqual(['class', 'end', 'path', 'severity', 'start', 'type']);
    }
  });
});
