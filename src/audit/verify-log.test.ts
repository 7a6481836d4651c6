import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateSignerKey, signerFromPrivateKey } from './note.js';
import { exportLines, signedCheckpoint, syntheticEvent } from './test-log.js';
import { verifyLog, verifyLogFile, type VerifyLogResult } from './verify-log.js';

const ORIGIN = 'countersign.test/audit';
const signer = signerFromPrivateKey(generateSignerKey(ORIGIN));
const other = signerFromPrivateKey(generateSignerKey(ORIGIN)); // same name, different key
const key = signer.verifierKey;
const lines = exportLines(Array.from({ length: 100 }, (_, i) => syntheticEvent(i + 1)));
const checkpoint = signedCheckpoint(ORIGIN, lines, signer);
const jsonl = (ls: string[]) => ls.map((l) => `${l}\n`).join('');

const verify = (ls: string[], opts: { checkpoint?: string; oldCheckpoint?: string } = {}) =>
  verifyLog(jsonl(ls), { checkpoint, key, ...opts });

const messages = (r: VerifyLogResult) => r.problems.map((p) => `${p.check}: ${p.message}`);

describe('verifyLog', () => {
  it('accepts an untouched export', async () => {
    const r = await verify(lines);
    expect(r).toMatchObject({ ok: true, events: 100, problems: [], nonCanonicalLines: 0 });
    expect(r.root).toBe(r.checkpoint!.root);
  });

  it('accepts an export that is not in canonical form: the leaf is the canonical form of the object', async () => {
    const pretty = lines.map((l) => JSON.stringify(JSON.parse(l) as unknown, null, 1).replace(/\n/g, ' '));
    const reordered = lines.map((l) => {
      const { seq, ...rest } = JSON.parse(l) as Record<string, unknown>;
      return JSON.stringify({ ...rest, seq });
    });
    for (const ls of [pretty, reordered]) {
      const r = await verify(ls);
      expect(messages(r)).toEqual([]);
      expect(r.nonCanonicalLines).toBe(100);
    }
  });

  it('detects one edited byte in one event', async () => {
    const edited = lines.slice();
    edited[41] = edited[41]!.replace('data.export', 'data.exporT');
    const r = await verify(edited);
    expect(r.ok).toBe(false);
    expect(messages(r)).toEqual([expect.stringMatching(/^root: root mismatch: the first 100 events differ/)]);
  });

  it('detects a deleted event, naming the line', async () => {
    const deleted = lines.filter((_, i) => i !== 4);
    const r = await verify(deleted);
    expect(r.problems[0]).toMatchObject({ check: 'sequence', line: 5, seq: 6 });
    expect(r.problems[0]!.message).toMatch(
      /^line 5: expected seq 5, found 6 — event 5 is missing or events were reordered \(lines 5–99 are all off by 1\)$/,
    );
    expect(messages(r)).toContain(
      'size: export has 99 events but the checkpoint covers 100: 1 event missing (see the sequence problems)',
    );
  });

  it('detects two swapped events', async () => {
    const swapped = lines.slice();
    [swapped[10], swapped[11]] = [swapped[11]!, swapped[10]!];
    const r = await verify(swapped);
    expect(messages(r)).toEqual([
      'sequence: lines 11 and 12 are swapped: line 11 holds seq 12 and line 12 holds seq 11',
      expect.stringMatching(/^root: root mismatch/),
    ]);
  });

  it('detects a truncated tail', async () => {
    const r = await verify(lines.slice(0, 98));
    expect(messages(r)).toEqual([
      'size: export has 98 events but the checkpoint covers 100: 2 events missing at the tail',
    ]);
  });

  it('detects a checkpoint re-signed with another key', async () => {
    const forged = signedCheckpoint(ORIGIN, lines, other);
    const r = await verify(lines, { checkpoint: forged });
    expect(messages(r)).toEqual([
      `checkpoint-signature: checkpoint signature does not verify with key ${ORIGIN}: it is not signed by that key`,
    ]);
  });

  it('detects a tampered export re-signed with another key', async () => {
    const edited = lines.slice();
    edited[0] = edited[0]!.replace('alice@', 'mallory@');
    const r = await verify(edited, { checkpoint: signedCheckpoint(ORIGIN, edited, other) });
    expect(r.problems.map((p) => p.check)).toEqual(['checkpoint-signature']);
  });

  it('detects a duplicated event and a bad line', async () => {
    const dup = [...lines.slice(0, 3), lines[2]!, ...lines.slice(3)];
    const r = await verify(dup);
    expect(r.problems[0]!.message).toBe(
      'line 4: expected seq 4, found 3 — a duplicate of event 3, or events were reordered (lines 4–101 are all off by -1)',
    );
    const bad = lines.slice();
    bad[6] = '{"seq": 7,';
    bad[7] = '[1]';
    const r2 = await verify(bad);
    expect(messages(r2).slice(0, 4)).toEqual([
      expect.stringMatching(/^json: line 7: not valid JSON/),
      'sequence: line 7: seq is missing or not a positive integer',
      'json: line 8: not a JSON object',
      'sequence: line 8: seq is missing or not a positive integer',
    ]);
  });

  it('checks a longer export against the checkpoint prefix, and says what it did not cover', async () => {
    const more = exportLines(Array.from({ length: 120 }, (_, i) => syntheticEvent(i + 1)));
    const r = await verify(more);
    expect(r.ok).toBe(true);
    expect(r.notes).toEqual([expect.stringMatching(/^lines 101–120 come after the checkpoint/)]);
  });

  it('checks an old checkpoint: signature, size and append-only', async () => {
    const old = signedCheckpoint(ORIGIN, lines.slice(0, 60), signer);
    expect((await verify(lines, { oldCheckpoint: old })).ok).toBe(true);

    // History rewritten after the old checkpoint: the new checkpoint signs the rewritten log.
    const rewritten = lines.slice();
    rewritten[10] = rewritten[10]!.replace('alice@', 'mallory@');
    const r = await verify(rewritten, {
      checkpoint: signedCheckpoint(ORIGIN, rewritten, signer),
      oldCheckpoint: old,
    });
    expect(messages(r)).toEqual([
      expect.stringMatching(/^append-only: append-only check failed: the first 60 events/),
    ]);

    const bigger = signedCheckpoint(ORIGIN, [...lines, ...lines.slice(0, 5)], signer);
    expect(messages(await verify(lines, { oldCheckpoint: bigger }))).toContainEqual(
      expect.stringMatching(/the old checkpoint covers 105 events, more than the new one \(100\)/),
    );
    const foreign = signedCheckpoint(ORIGIN, lines.slice(0, 60), other);
    expect(messages(await verify(lines, { oldCheckpoint: foreign }))).toEqual([
      expect.stringMatching(/^old-checkpoint-signature: old checkpoint signature does not verify/),
    ]);
  });

  it('reports a bad key and a malformed checkpoint instead of throwing', async () => {
    const r = await verifyLog(jsonl(lines), { checkpoint: 'nonsense', key: 'not a key' });
    expect(r.problems.map((p) => p.check)).toEqual(['key', 'checkpoint']);
  });

  it('streams a file in chunks, with progress', async () => {
    // A hook registered inside a test never runs: the folder is removed here.
    const dir = mkdtempSync(join(tmpdir(), 'audit-verify-'));
    try {
      const file = join(dir, 'events.jsonl');
      writeFileSync(file, jsonl(lines));
      const seen: number[] = [];
      const r = await verifyLogFile(file, {
        checkpoint,
        key,
        onProgress: (n) => seen.push(n),
        progressEvery: 40,
      });
      expect(r.ok).toBe(true);
      expect(seen).toEqual([40, 80, 100]);
      // Chunk boundaries in the middle of lines and of multi-byte characters.
      const bytes = Buffer.from(jsonl(lines));
      const chunks = Array.from({ length: Math.ceil(bytes.length / 7) }, (_, i) =>
        bytes.subarray(i * 7, i * 7 + 7),
      );
      expect((await verifyLog(chunks, { checkpoint, key })).ok).toBe(true);
      // No final newline.
      expect((await verifyLog(jsonl(lines).slice(0, -1), { checkpoint, key })).ok).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
