/**
 * Batched and multi-threaded verification must say exactly what the one-thread, one-batch check says:
 * the same problems, in the same order, with the same line numbers, roots and counts, wherever the
 * batch boundaries, chunk boundaries and checkpoint sizes fall.
 *
 * Under vitest the workers run verify-worker.ts through test/helpers/ts-worker.ts; the compiled build
 * starts dist/audit/verify-worker.js directly.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { tsWorker } from '../../test/helpers/ts-worker.js';
import { canonicalJson } from '../core/digest.js';
import { generateSignerKey, signerFromPrivateKey } from './note.js';
import { exportLines, signedCheckpoint, syntheticEvent } from './test-log.js';
import { verifyLog, verifyLogFile, type VerifyLogOptions, type VerifyLogResult } from './verify-log.js';

const startVerifyWorker = tsWorker(new URL('./verify-worker.ts', import.meta.url));

let spawned = 0;
const spawnWorker = () => {
  spawned++;
  return startVerifyWorker();
};

const ORIGIN = 'countersign.test/audit';
const signer = signerFromPrivateKey(generateSignerKey(ORIGIN));
const other = signerFromPrivateKey(generateSignerKey(ORIGIN));
const key = signer.verifierKey;
const lines = exportLines(Array.from({ length: 100 }, (_, i) => syntheticEvent(i + 1)));
const checkpoint = signedCheckpoint(ORIGIN, lines, signer);
const jsonl = (ls: string[]) => ls.map((l) => `${l}\n`).join('');
const bytes = (ls: string[]) => Buffer.from(jsonl(ls));

/** The reference: one thread, one batch big enough for the whole export. */
const reference = (source: Buffer, opts: Partial<VerifyLogOptions> = {}) =>
  verifyLog(source, { checkpoint, key, batchLines: 1 << 20, ...opts });

/** Scenarios, each an export and the options to verify it with. */
function scenarios(): [string, Buffer, Partial<VerifyLogOptions>][] {
  const edited = lines.slice();
  edited[41] = edited[41]!.replace('data.export', 'data.exporT');
  const swapped = lines.slice();
  [swapped[10], swapped[11]] = [swapped[11]!, swapped[10]!];
  const bad = lines.slice();
  bad[6] = '{"seq": 7,';
  bad[7] = '[1]';
  bad[8] = '';
  bad[9] = JSON.stringify(JSON.parse(bad[9]!) as unknown, null, 1).replace(/\n/g, ' ');
  const badUtf8 = Buffer.concat([
    bytes(lines.slice(0, 20)),
    Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc0, 0xaf, 0x22, 0x7d, 0x0a]), // {"a":"<overlong>"}
    bytes(lines.slice(21)),
  ]);
  const reordered = lines.map((l) => {
    const { seq, ...rest } = JSON.parse(l) as Record<string, unknown>;
    return JSON.stringify({ ...rest, seq });
  });
  const more = exportLines(Array.from({ length: 120 }, (_, i) => syntheticEvent(i + 1)));
  return [
    ['untouched', bytes(lines), {}],
    ['no final newline', bytes(lines).subarray(0, -1), {}],
    ['CRLF line ends', Buffer.from(lines.map((l) => `${l}\r\n`).join('')), {}],
    ['non-canonical lines', bytes(reordered), {}],
    ['one edited byte', bytes(edited), {}],
    ['a deleted event', bytes(lines.filter((_, i) => i !== 4)), {}],
    ['two swapped events', bytes(swapped), {}],
    ['a truncated tail', bytes(lines.slice(0, 98)), {}],
    ['bad lines', bytes(bad), {}],
    ['an invalid UTF-8 line', badUtf8, {}],
    ['another signer', bytes(lines), { checkpoint: signedCheckpoint(ORIGIN, lines, other) }],
    [
      'a longer export and an old checkpoint at an odd size',
      bytes(more),
      { oldCheckpoint: signedCheckpoint(ORIGIN, lines.slice(0, 37), signer) },
    ],
    [
      'history rewritten after an old checkpoint',
      bytes(edited),
      {
        checkpoint: signedCheckpoint(ORIGIN, edited, signer),
        oldCheckpoint: signedCheckpoint(ORIGIN, lines.slice(0, 61), signer),
      },
    ],
    [
      'more line problems than are listed',
      bytes(lines.map((l, i) => (i % 3 ? `${l} ` : `{"seq":${i + 1}`))),
      { maxLineProblems: 5 },
    ],
  ];
}

/** The export in chunks of `size` bytes (cutting lines and multi-byte characters anywhere). */
function chunked(all: Buffer, size: number): Buffer[] {
  return Array.from({ length: Math.ceil(all.length / size) }, (_, i) =>
    all.subarray(i * size, (i + 1) * size),
  );
}

describe('batched verification', () => {
  it.each(scenarios())('agrees with the one-batch check: %s', async (_name, text, opts) => {
    const want: VerifyLogResult = await reference(text, opts);
    for (const batchLines of [1, 2, 8, 64]) {
      for (const chunk of [1, 7, 1000]) {
        const got = await verifyLog(chunked(text, chunk), { checkpoint, key, batchLines, ...opts });
        expect(got, `batchLines ${batchLines}, chunks of ${chunk} bytes`).toEqual(want);
      }
    }
    // Batches cut short by their byte budget (fewer lines, re-aligned on the following batches).
    for (const batchBytes of [1, 900, 5000]) {
      const got = await verifyLog(chunked(text, 333), { checkpoint, key, batchBytes, ...opts });
      expect(got, `batchBytes ${batchBytes}`).toEqual(want);
    }
  });

  it('reports progress at every multiple, then at the end', async () => {
    const seen: number[] = [];
    await verifyLog(jsonl(lines), {
      checkpoint,
      key,
      batchLines: 32,
      progressEvery: 10,
      onProgress: (n) => seen.push(n),
    });
    expect(seen).toEqual([10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 100]);
  });

  it('refuses a batch size that is not a power of two', async () => {
    await expect(verifyLog(jsonl(lines), { checkpoint, key, batchLines: 3 })).rejects.toThrow(/power of two/);
  });
});

describe('verification in worker threads', () => {
  it.each(scenarios())('agrees with the one-thread check: %s', async (_name, text, opts) => {
    const want = await reference(text, opts);
    for (const [threads, batchLines] of [
      [2, 1],
      [3, 8],
    ] as const) {
      const got = await verifyLog(chunked(text, 501), {
        checkpoint,
        key,
        threads,
        batchLines,
        spawnWorker,
        ...opts,
      });
      expect(got, `${threads} threads, batchLines ${batchLines}`).toEqual(want);
    }
  });

  it('verifies a file with the default batches, and uses the workers it is given', async () => {
    // A hook registered inside a test never runs: the folder is removed here.
    const dir = mkdtempSync(join(tmpdir(), 'audit-verify-threads-'));
    try {
      // Enough lines for several default batches (8192 lines), with a checkpoint inside one of them.
      const n = 20_000;
      const many = exportLines(Array.from({ length: n }, (_, i) => syntheticEvent(i + 1)));
      const file = join(dir, 'events.jsonl');
      writeFileSync(file, jsonl(many));
      const cp = signedCheckpoint(ORIGIN, many.slice(0, 12_345), signer);
      const before = spawned;
      const threaded = await verifyLogFile(file, { checkpoint: cp, key, threads: 2, spawnWorker });
      expect(spawned - before).toBe(2);
      expect(threaded).toMatchObject({ ok: true, events: n, nonCanonicalLines: 0 });
      expect(threaded).toEqual(await verifyLogFile(file, { checkpoint: cp, key, threads: 0 }));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fails (rejects) when a worker dies, and stops the others', async () => {
    const broken = () => new Worker('throw new Error("boom")', { eval: true });
    await expect(
      verifyLog(jsonl(lines), { checkpoint, key, threads: 2, batchLines: 4, spawnWorker: broken }),
    ).rejects.toThrow(/boom|exited/);
  });
});

it('the canonical-form check needs no slow path for the lines of a real export', () => {
  // Sanity check of the fixture these tests rely on: exportLines writes JCS.
  expect(lines.every((l) => canonicalJson(JSON.parse(l) as unknown) === l)).toBe(true);
});
