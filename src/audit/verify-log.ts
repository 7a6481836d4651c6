/**
 * Offline verification of an audit export against signed checkpoints: no server, no database.
 *
 * Input: the JSON Lines export (line I is the event whose JCS form is leaf I-1, with `seq` I), the
 * latest checkpoint note, the log's verifier key, and optionally an older checkpoint note.
 * When the export is longer than the checkpoint, the checkpoint is checked against the root of its
 * first `size` events, and the later lines are checked for format and order only (see `notes`).
 */
import { createReadStream, existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { parseCheckpoint, type ParsedCheckpoint } from './checkpoint.js';
import { EMPTY_ROOT } from './hash.js';
import { TreeBuilder, fromHashString } from './merkle.js';
import { NoteError, openNote, verifierFromKey, type NoteVerifier } from './note.js';
import { checkBatch, type BatchResult } from './verify-batch.js';
import type { WorkerJob } from './verify-worker.js';

export type VerifyCheck =
  | 'key'
  | 'checkpoint'
  | 'checkpoint-signature'
  | 'json'
  | 'sequence'
  | 'size'
  | 'root'
  | 'old-checkpoint'
  | 'old-checkpoint-signature'
  | 'append-only';

export interface VerifyProblem {
  check: VerifyCheck;
  line?: number;
  seq?: number;
  message: string;
}

export interface VerifyLogResult {
  ok: boolean;
  /** Lines (events) in the export. */
  events: number;
  /** Base64 root of the first `checkpoint.size` events (of all events when the export is shorter). */
  root: string;
  checkpoint: { origin: string; size: number; root: string } | null;
  oldCheckpoint: { origin: string; size: number; root: string } | null;
  /** Lines that were not in canonical form (allowed: the leaf is the canonical form of the object). */
  nonCanonicalLines: number;
  problems: VerifyProblem[];
  notes: string[];
}

export interface VerifyLogOptions {
  /** The latest checkpoint: a C2SP signed note. */
  checkpoint: string;
  /** The log's C2SP verifier key string. */
  key: string;
  /** An earlier checkpoint note of the same log, to check that the log only grew. */
  oldCheckpoint?: string;
  /** Called with the number of events read so far, every `progressEvery` events and at the end. */
  onProgress?: (events: number) => void;
  progressEvery?: number;
  /** Per-line problems listed before the rest are only counted (default 50). */
  maxLineProblems?: number;
  /**
   * Worker threads that check and hash batches of lines while this thread reads the export and
   * applies their results in order; 0 does all the work in this thread. Default: 0 for `verifyLog`;
   * for `verifyLogFile`, one per available core (at most 8) for files of 32 MiB or more, else 0.
   */
  threads?: number;
  /** Starts a worker running verify-worker (for tests, or where the compiled worker lives elsewhere). */
  spawnWorker?: () => Worker;
  /** Lines per batch, a power of two (default 8192). */
  batchLines?: number;
  /** A batch stops growing at about this many bytes (default 8 MiB), with fewer lines. */
  batchBytes?: number;
}

export type ExportSource =
  string | Uint8Array | AsyncIterable<string | Uint8Array> | Iterable<string | Uint8Array>;

const b64 = (h: Buffer) => h.toString('base64');

interface OpenedCheckpoint {
  cp: ParsedCheckpoint | null;
  signed: boolean;
}

/** Opens a checkpoint note; problems go to `report`. Parses the body even when the signature fails. */
function openCheckpoint(
  note: string,
  verifier: NoteVerifier | null,
  which: 'checkpoint' | 'old-checkpoint',
  report: (p: VerifyProblem) => void,
): OpenedCheckpoint {
  const label = which === 'checkpoint' ? 'checkpoint' : 'old checkpoint';
  let text: string | null = null;
  let signed = false;
  if (verifier) {
    try {
      text = openNote(note, [verifier]).text;
      signed = true;
    } catch (err) {
      const why =
        err instanceof NoteError && err.code === 'MALFORMED_NOTE'
          ? `${label} is not a well-formed signed note (${err.message})`
          : err instanceof NoteError && err.code === 'BAD_SIGNATURE'
            ? `${label} signature does not verify with key ${verifier.name}: it is forged or was altered`
            : `${label} signature does not verify with key ${verifier.name}: it is not signed by that key`;
      report({ check: `${which}-signature`, message: why });
    }
  }
  // Unsigned or unverifiable: still read the body, so that the other checks can say what they can.
  text ??= note.lastIndexOf('\n\n') >= 0 ? note.slice(0, note.lastIndexOf('\n\n') + 1) : note;
  try {
    return { cp: parseCheckpoint(text), signed };
  } catch (err) {
    report({ check: which, message: `${label}: ${(err as Error).message}` });
    return { cp: null, signed };
  }
}

/** A run of consecutive lines whose seq is off from the line number by the same amount. */
interface Run {
  line: number;
  seq: number;
  offset: number;
  count: number;
}

/** The per-line work: leaf hashing, sequence checks, and root snapshots at the checkpoint sizes. */
class ExportChecker {
  readonly tree = new TreeBuilder();
  readonly roots = new Map<number, Buffer>();
  nonCanonical = 0;
  lineProblems = 0;
  sequenceProblems = 0;
  lastSeq = 0;
  readonly problems: VerifyProblem[] = [];
  #run: Run | null = null;
  #lastFlushed: { run: Run; index: number } | null = null;
  readonly #snapshotSizes: Set<number>;
  readonly #maxLineProblems: number;

  constructor(snapshotSizes: Set<number>, maxLineProblems: number) {
    this.#snapshotSizes = snapshotSizes;
    this.#maxLineProblems = maxLineProblems;
    if (snapshotSizes.has(0)) this.roots.set(0, EMPTY_ROOT);
  }

  /** The checkpoint sizes among leaves (first, first + count], counted from `first`. */
  snapshotsIn(first: number, count: number): number[] {
    const inside: number[] = [];
    for (const s of this.#snapshotSizes) if (s > first && s <= first + count) inside.push(s - first);
    return inside.sort((a, b) => a - b);
  }

  lineProblem(p: VerifyProblem): void {
    this.lineProblems++;
    if (this.lineProblems <= this.#maxLineProblems) this.problems.push(p);
  }

  /**
   * Applies the result of the next batch of lines, which must start at leaf `tree.size`: roots at the
   * checkpoint sizes inside it, its subtree, then its lines' problems and seqs in line order.
   */
  apply(r: BatchResult): void {
    const first = this.tree.size;
    for (const snap of r.snapshots)
      this.roots.set(first + snap.size, fromHashString(this.tree.rootString(snap.stack)));
    // The stack's subtrees, largest first: one per 1-bit of the batch's line count.
    let rest = r.count;
    for (const root of r.stack) {
      let level = 0;
      while (2 ** (level + 1) <= rest) level++;
      this.tree.appendSubtree(root, level);
      rest -= 2 ** level;
    }
    this.nonCanonical += r.nonCanonical;
    let next = 0;
    for (let i = 0; i < r.count; i++) {
      const line = first + i + 1;
      for (; next < r.problems.length && r.problems[next]!.line === line; next++)
        this.lineProblem({ check: 'json', line, message: r.problems[next]!.message });
      this.#sequence(line, r.seqs[i]!);
    }
  }

  #sequence(line: number, seq: number): void {
    if (!Number.isSafeInteger(seq) || seq < 1) {
      this.#flush();
      this.sequenceProblems++;
      this.lineProblem({
        check: 'sequence',
        line,
        message: `line ${line}: seq is missing or not a positive integer`,
      });
      return;
    }
    this.lastSeq = seq;
    const offset = seq - line;
    const run = this.#run;
    if (run && run.offset === offset && run.line + run.count === line) {
      run.count++;
      return;
    }
    this.#flush();
    if (offset !== 0) this.#run = { line, seq, offset, count: 1 };
  }

  #flush(): void {
    const run = this.#run;
    if (!run) return;
    this.#run = null;
    this.sequenceProblems++;
    const prev = this.#lastFlushed;
    // Two single lines holding each other's seq: a swap.
    if (
      prev &&
      prev.run.count === 1 &&
      run.count === 1 &&
      prev.run.seq === run.line &&
      run.seq === prev.run.line
    ) {
      const p = this.problems[prev.index];
      if (p) {
        p.message = `lines ${prev.run.line} and ${run.line} are swapped: line ${prev.run.line} holds seq ${prev.run.seq} and line ${run.line} holds seq ${run.seq}`;
        this.#lastFlushed = null;
        return;
      }
    }
    const expected = run.line;
    let message = `line ${run.line}: expected seq ${expected}, found ${run.seq} — `;
    if (run.offset > 0) {
      const missing = run.offset === 1 ? `event ${expected} is` : `events ${expected}–${run.seq - 1} are`;
      message += `${missing} missing or events were reordered`;
    } else {
      message += `a duplicate of event ${run.seq}, or events were reordered`;
    }
    if (run.count > 1)
      message += ` (lines ${run.line}–${run.line + run.count - 1} are all off by ${run.offset})`;
    this.lineProblem({ check: 'sequence', line: run.line, seq: run.seq, message });
    this.#lastFlushed = { run, index: this.problems.length - 1 };
  }

  finish(): void {
    this.#flush();
    if (this.lineProblems > this.#maxLineProblems) {
      this.problems.push({
        check: this.problems.at(-1)?.check ?? 'json',
        message: `… and ${this.lineProblems - this.#maxLineProblems} more line problems not listed`,
      });
    }
  }
}

/** Lines per batch at most: a power of two, so that each batch is one perfect subtree of the log. */
const BATCH_LINES = 8192;
/** A batch stops growing at about this many bytes (fewer lines then, still a power of two). */
const BATCH_BYTES = 8 << 20;
/** Chunks of the source are copied into batches at most this many bytes at a time. */
const CHUNK = 1 << 20;
/** Files at least this big are verified with worker threads by default. */
const THREADS_FROM_BYTES = 32 << 20;

/** The largest power of two <= n (n >= 1). */
function floorPowerOfTwo(n: number): number {
  let k = 1;
  while (k * 2 <= n) k *= 2;
  return k;
}

/** The largest power of two <= max that divides position: how many lines a batch there may hold. */
function alignedLimit(position: number, max: number): number {
  let k = 1;
  while (k < max && position % (k * 2) === 0) k *= 2;
  return k;
}

/**
 * Cuts the export into batches of whole lines for checkBatch: each holds 2^k lines and starts at a
 * multiple of 2^k lines, so that its leaves form one perfect subtree of the log (RFC 9162 §2.1.1),
 * which a worker can hash on its own. Byte 0 of each batch buffer is scratch, and every line ends in
 * `\n` (one is added to a last line without it).
 */
class Batcher {
  #buf: Buffer;
  /** Bytes in #buf: [1, #filled). */
  #filled = 1;
  /** The `\n` of each complete line in #buf, in order. */
  #ends: number[] = [];
  /** Where the search for the next `\n` resumes. */
  #scanFrom = 1;
  /** Lines handed out so far. */
  #position = 0;
  readonly #free: Buffer[] = [];
  readonly #maxLines: number;
  readonly #maxBytes: number;
  /** The size of the buffers batches are cut from (bigger ones are made for lines longer than that). */
  readonly #capacity: number;
  readonly #onBatch: (bytes: Buffer, count: number, firstLine: number) => void | Promise<void>;

  constructor(
    maxLines: number,
    maxBytes: number,
    onBatch: (bytes: Buffer, count: number, firstLine: number) => void | Promise<void>,
  ) {
    this.#maxLines = maxLines;
    this.#maxBytes = maxBytes;
    this.#capacity = maxBytes + 2 * CHUNK;
    this.#onBatch = onBatch;
    this.#buf = this.#take(0);
  }

  /** Returns a batch's buffer once its bytes are no longer needed. */
  recycle(buffer: ArrayBuffer): void {
    if (buffer.byteLength === this.#capacity && this.#free.length < 16) this.#free.push(Buffer.from(buffer));
  }

  #take(atLeast: number): Buffer {
    if (atLeast <= this.#capacity) return this.#free.pop() ?? Buffer.allocUnsafeSlow(this.#capacity);
    return Buffer.allocUnsafeSlow(atLeast);
  }

  async push(chunk: Uint8Array): Promise<void> {
    for (let at = 0; at < chunk.length; at += CHUNK) {
      const part = chunk.subarray(at, Math.min(at + CHUNK, chunk.length));
      if (this.#filled + part.length + 1 > this.#buf.length) {
        // Only a line longer than a batch gets here: grow.
        const bigger = this.#take(Math.max(this.#buf.length * 2, this.#filled + part.length + 1));
        this.#buf.copy(bigger, 0, 0, this.#filled);
        this.#buf = bigger;
      }
      this.#buf.set(part, this.#filled);
      this.#filled += part.length;
      const view = this.#buf.subarray(0, this.#filled);
      for (let nl = view.indexOf(0x0a, this.#scanFrom); nl >= 0; nl = view.indexOf(0x0a, this.#scanFrom)) {
        this.#ends.push(nl);
        this.#scanFrom = nl + 1;
      }
      await this.#cutFull();
      while (this.#filled > this.#maxBytes && this.#ends.length > 0) {
        await this.#cut(floorPowerOfTwo(Math.min(this.#ends.length, this.#limit())));
        await this.#cutFull();
      }
    }
  }

  async end(): Promise<void> {
    if (this.#filled > this.#scanFrom) {
      this.#buf[this.#filled] = 0x0a; // the last line had no newline: give it one
      this.#ends.push(this.#filled);
      this.#filled += 1;
      this.#scanFrom = this.#filled;
    }
    while (this.#ends.length > 0)
      await this.#cut(floorPowerOfTwo(Math.min(this.#ends.length, this.#limit())));
  }

  #limit(): number {
    return alignedLimit(this.#position, this.#maxLines);
  }

  async #cutFull(): Promise<void> {
    while (this.#ends.length >= this.#limit()) await this.#cut(this.#limit());
  }

  /** Hands out the first `count` complete lines as a batch. */
  async #cut(count: number): Promise<void> {
    const old = this.#buf;
    const used = this.#ends[count - 1]! + 1;
    const rest = this.#filled - used;
    const next = this.#take(rest + 2 + CHUNK);
    old.copy(next, 1, used, this.#filled);
    const shift = used - 1;
    this.#buf = next;
    this.#filled = rest + 1;
    this.#ends = this.#ends.slice(count).map((e) => e - shift);
    this.#scanFrom -= shift;
    const firstLine = this.#position + 1;
    this.#position += count;
    await this.#onBatch(old.subarray(0, used), count, firstLine);
  }
}

/** Feeds every byte of the source to the batcher. */
async function feed(source: ExportSource, batcher: Batcher): Promise<void> {
  const bytes = (chunk: string | Uint8Array) =>
    typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
  if (typeof source === 'string' || source instanceof Uint8Array) await batcher.push(bytes(source));
  else if (Symbol.asyncIterator in source) for await (const chunk of source) await batcher.push(bytes(chunk));
  else for (const chunk of source) await batcher.push(bytes(chunk));
  await batcher.end();
}

const WORKER_URL = new URL('./verify-worker.js', import.meta.url);

/** Worker threads running checkBatch; each takes the next job when the one before is done. */
class BatchPool {
  readonly #workers: { worker: Worker; pending: number }[];
  readonly #waiting = new Map<number, { resolve: (r: BatchResult) => void; reject: (e: unknown) => void }>();
  #nextId = 0;
  #failed: Error | null = null;

  constructor(threads: number, spawn: () => Worker, onBuffer: (b: ArrayBuffer) => void) {
    this.#workers = [];
    for (let i = 0; i < threads; i++) {
      let worker: Worker;
      try {
        worker = spawn();
      } catch (err) {
        for (const w of this.#workers) void w.worker.terminate();
        throw err;
      }
      const entry = { worker, pending: 0 };
      entry.worker.on('message', (m: { id: number; result: BatchResult; buffer: ArrayBuffer }) => {
        entry.pending--;
        onBuffer(m.buffer);
        const w = this.#waiting.get(m.id);
        this.#waiting.delete(m.id);
        w?.resolve(m.result);
      });
      const fail = (err: unknown) => {
        this.#failed ??= err instanceof Error ? err : new Error(String(err));
        for (const w of this.#waiting.values()) w.reject(err);
        this.#waiting.clear();
      };
      entry.worker.on('error', fail);
      entry.worker.on('exit', (code) => fail(new Error(`verification worker exited (code ${code})`)));
      this.#workers.push(entry);
    }
  }

  run(bytes: Buffer, count: number, firstLine: number, snapshots: number[]): Promise<BatchResult> {
    if (this.#failed !== null) {
      const failed = Promise.reject(this.#failed);
      failed.catch(() => {}); // see below
      return failed;
    }
    const entry = this.#workers.reduce((a, b) => (b.pending < a.pending ? b : a));
    const id = this.#nextId++;
    const job: WorkerJob = {
      id,
      buffer: bytes.buffer as ArrayBuffer,
      length: bytes.length,
      count,
      firstLine,
      snapshots,
    };
    entry.pending++;
    const done = new Promise<BatchResult>((resolve, reject) => this.#waiting.set(id, { resolve, reject }));
    entry.worker.postMessage(job, [job.buffer]);
    // Handled here so that a failure while the caller awaits an earlier batch is not "unhandled";
    // the caller still sees it when it awaits this one.
    done.catch(() => {});
    return done;
  }

  async close(): Promise<void> {
    this.#failed ??= new Error('verification workers closed');
    await Promise.all(this.#workers.map((w) => w.worker.terminate()));
  }
}

/** Reads the source, has its batches checked (here or in workers) and applies the results in order. */
async function checkExport(
  source: ExportSource,
  checker: ExportChecker,
  opts: VerifyLogOptions,
  threads: number,
): Promise<void> {
  const every = Math.max(1, opts.progressEvery ?? 100_000);
  const onProgress = opts.onProgress;
  let progressAt = every;
  const apply = (r: BatchResult) => {
    checker.apply(r);
    for (; onProgress && progressAt <= checker.tree.size; progressAt += every) onProgress(progressAt);
  };
  const maxLines = opts.batchLines ?? BATCH_LINES;
  const maxBytes = Math.max(1, opts.batchBytes ?? BATCH_BYTES);
  if (maxLines < 1 || floorPowerOfTwo(maxLines) !== maxLines) {
    throw new RangeError(`batchLines must be a power of two, got ${maxLines}`);
  }

  if (threads <= 0) {
    const batcher: Batcher = new Batcher(maxLines, maxBytes, (bytes, count, firstLine) => {
      apply(checkBatch({ bytes, count, firstLine, snapshots: checker.snapshotsIn(firstLine - 1, count) }));
      batcher.recycle(bytes.buffer as ArrayBuffer);
    });
    await feed(source, batcher);
    return;
  }

  let batcher: Batcher | null = null;
  const pool = new BatchPool(threads, opts.spawnWorker ?? (() => new Worker(WORKER_URL)), (buffer) =>
    batcher?.recycle(buffer),
  );
  // Results are applied in line order; at most two batches per worker are in flight.
  const inFlight: Promise<BatchResult>[] = [];
  try {
    batcher = new Batcher(maxLines, maxBytes, async (bytes, count, firstLine) => {
      inFlight.push(pool.run(bytes, count, firstLine, checker.snapshotsIn(firstLine - 1, count)));
      while (inFlight.length >= 2 * threads) apply(await inFlight.shift()!);
    });
    await feed(source, batcher);
    while (inFlight.length > 0) apply(await inFlight.shift()!);
  } finally {
    await pool.close();
  }
}

/** Verifies an export given as text, bytes or a stream of chunks. Never throws for bad input: it reports. */
export async function verifyLog(source: ExportSource, opts: VerifyLogOptions): Promise<VerifyLogResult> {
  const problems: VerifyProblem[] = [];
  const notes: string[] = [];
  const report = (p: VerifyProblem) => void problems.push(p);

  let verifier: NoteVerifier | null = null;
  try {
    verifier = verifierFromKey(opts.key.trim());
  } catch (err) {
    report({ check: 'key', message: (err as Error).message });
  }
  const latest = openCheckpoint(opts.checkpoint, verifier, 'checkpoint', report);
  const old =
    opts.oldCheckpoint !== undefined
      ? openCheckpoint(opts.oldCheckpoint, verifier, 'old-checkpoint', report)
      : null;

  const sizes = new Set<number>();
  if (latest.cp) sizes.add(latest.cp.size);
  if (old?.cp) sizes.add(old.cp.size);
  const checker = new ExportChecker(sizes, opts.maxLineProblems ?? 50);
  await checkExport(source, checker, opts, opts.threads ?? 0);
  checker.finish();
  problems.push(...checker.problems);
  const events = checker.tree.size;
  opts.onProgress?.(events);

  const sequenceHint = checker.sequenceProblems > 0 ? ' (see the sequence problems)' : '';
  const cp = latest.cp;
  let root = checker.tree.root();
  if (cp) {
    if (events < cp.size) {
      const missing = cp.size - events;
      const where =
        checker.sequenceProblems === 0 && checker.lastSeq === events ? ' at the tail' : sequenceHint;
      report({
        check: 'size',
        message: `export has ${events} events but the checkpoint covers ${cp.size}: ${missing} event${missing === 1 ? '' : 's'} missing${where}`,
      });
    } else {
      root = checker.roots.get(cp.size)!;
      if (!root.equals(cp.root)) {
        report({
          check: 'root',
          message:
            `root mismatch: the first ${cp.size} events differ from what the checkpoint signed ` +
            `(recomputed ${b64(root)}, checkpoint ${b64(cp.root)})` +
            (checker.lineProblems > 0
              ? '; first check the lines reported above'
              : '; every line is in order, so an event was altered: compare lines with inclusion proofs from the server to find which'),
        });
      }
      if (events > cp.size) {
        notes.push(
          `lines ${cp.size + 1}–${events} come after the checkpoint (size ${cp.size}): their format and order were checked, but no checkpoint covers them yet`,
        );
      }
    }
  }

  const ocp = old?.cp ?? null;
  if (ocp && cp) {
    if (ocp.origin !== cp.origin) {
      report({
        check: 'old-checkpoint',
        message: `the old checkpoint is for log ${JSON.stringify(ocp.origin)}, the new one for ${JSON.stringify(cp.origin)}`,
      });
    }
    if (ocp.size > cp.size) {
      report({
        check: 'append-only',
        message: `the old checkpoint covers ${ocp.size} events, more than the new one (${cp.size}): the log was truncated or rolled back`,
      });
    } else if (ocp.size > events) {
      report({
        check: 'old-checkpoint',
        message: `export has ${events} events, fewer than the old checkpoint's ${ocp.size}: cannot check it`,
      });
    } else if (!checker.roots.get(ocp.size)!.equals(ocp.root)) {
      report({
        check: 'append-only',
        message:
          `append-only check failed: the first ${ocp.size} events do not hash to the old checkpoint's root ` +
          `(recomputed ${b64(checker.roots.get(ocp.size)!)}, old checkpoint ${b64(ocp.root)}): ` +
          `events the old checkpoint signed were changed, removed or reordered${sequenceHint}`,
      });
    }
  }

  const summary = (c: ParsedCheckpoint | null) =>
    c ? { origin: c.origin, size: c.size, root: b64(c.root) } : null;
  return {
    ok: problems.length === 0,
    events,
    root: b64(root),
    checkpoint: summary(cp),
    oldCheckpoint: summary(ocp),
    nonCanonicalLines: checker.nonCanonical,
    problems,
    notes,
  };
}

/**
 * Verifies an export file, streaming it in large chunks (memory stays O(log n) plus a few batches).
 * Big files are checked by worker threads, one per core, unless `opts.threads` says otherwise.
 */
export async function verifyLogFile(path: string, opts: VerifyLogOptions): Promise<VerifyLogResult> {
  const threads = opts.threads ?? (await defaultThreads(path, opts));
  return verifyLog(createReadStream(path, { highWaterMark: CHUNK }) as AsyncIterable<Buffer>, {
    ...opts,
    threads,
  });
}

async function defaultThreads(path: string, opts: VerifyLogOptions): Promise<number> {
  const cores = Math.min(availableParallelism(), 8);
  if (cores < 2) return 0;
  // Where this module runs uncompiled (from the .ts sources), there is no worker script to start.
  if (!opts.spawnWorker && !existsSync(fileURLToPath(WORKER_URL))) return 0;
  const size = await stat(path).then(
    (s) => s.size,
    () => 0,
  );
  return size >= THREADS_FROM_BYTES ? cores : 0;
}
