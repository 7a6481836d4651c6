/**
 * Offline verification of an audit export against signed checkpoints: no server, no database.
 *
 * Input: the JSON Lines export (line I is the event whose JCS form is leaf I-1, with `seq` I), the
 * latest checkpoint note, the log's verifier key, and optionally an older checkpoint note.
 * When the export is longer than the checkpoint, the checkpoint is checked against the root of its
 * first `size` events, and the later lines are checked for format and order only (see `notes`).
 */
import { createReadStream } from 'node:fs';
import { canonicalJson } from '../core/digest.js';
import { scanCanonicalLine, type CanonicalScan } from './canonical-line.js';
import { parseCheckpoint, type ParsedCheckpoint } from './checkpoint.js';
import { EMPTY_ROOT } from './hash.js';
import { TreeBuilder, fastLeafHash } from './merkle.js';
import { NoteError, openNote, verifierFromKey, type NoteVerifier } from './note.js';

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
}

export type ExportSource =
  string | Uint8Array | AsyncIterable<string | Uint8Array> | Iterable<string | Uint8Array>;

const b64 = (h: Buffer) => h.toString('base64');
const utf8 = new TextDecoder('utf-8', { fatal: true });

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
  readonly #scan: CanonicalScan = { canonical: false, seq: Number.NaN };

  readonly #snapshotSizes: Set<number>;
  readonly #maxLineProblems: number;

  constructor(snapshotSizes: Set<number>, maxLineProblems: number) {
    this.#snapshotSizes = snapshotSizes;
    this.#maxLineProblems = maxLineProblems;
    if (snapshotSizes.has(0)) this.roots.set(0, EMPTY_ROOT);
  }

  lineProblem(p: VerifyProblem): void {
    this.lineProblems++;
    if (this.lineProblems <= this.#maxLineProblems) this.problems.push(p);
  }

  line(bytes: Uint8Array, start: number, stop: number): void {
    const lineNo = this.tree.size + 1;
    const scan = this.#scan;
    scanCanonicalLine(bytes, start, stop, scan);
    let seq = scan.seq;
    if (scan.canonical) {
      this.tree.append(fastLeafHash(bytes, start, stop));
    } else {
      this.nonCanonical++;
      const leaf = this.#slowLeaf(bytes.subarray(start, stop), lineNo);
      seq = leaf.seq;
      this.tree.append(fastLeafHash(leaf.bytes));
    }
    this.#sequence(lineNo, seq);
    const size = this.tree.size;
    if (this.#snapshotSizes.has(size)) this.roots.set(size, this.tree.root());
  }

  /** JSON.parse and the reference canonicaliser; a line that fails is hashed as it is (and reported). */
  #slowLeaf(raw: Uint8Array, line: number): { bytes: Uint8Array; seq: number } {
    const fail = (message: string) => {
      this.lineProblem({ check: 'json', line, message: `line ${line}: ${message}` });
      return { bytes: raw, seq: Number.NaN };
    };
    if (raw.length === 0) return fail('empty line');
    let text: string;
    try {
      text = utf8.decode(raw);
    } catch {
      return fail('not valid UTF-8');
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      return fail(`not valid JSON (${(err as Error).message})`);
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return fail('not a JSON object');
    let canonical: string;
    try {
      canonical = canonicalJson(value);
    } catch (err) {
      return fail(`cannot be put in canonical (JCS) form: ${(err as Error).message}`);
    }
    const seq = (value as { seq?: unknown }).seq;
    return { bytes: Buffer.from(canonical, 'utf8'), seq: typeof seq === 'number' ? seq : Number.NaN };
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

/** Splits a byte/text stream into lines and feeds them to `onLine` (bytes, start, end). */
async function forEachLine(
  source: ExportSource,
  onLine: (bytes: Uint8Array, start: number, stop: number) => void,
): Promise<void> {
  let carry: Buffer | null = null;
  const feed = (chunk: string | Uint8Array) => {
    const bytes =
      typeof chunk === 'string'
        ? Buffer.from(chunk, 'utf8')
        : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const buf: Buffer = carry ? Buffer.concat([carry, bytes]) : bytes;
    let start = 0;
    for (let nl = buf.indexOf(0x0a, start); nl >= 0; nl = buf.indexOf(0x0a, start)) {
      onLine(buf, start, nl);
      start = nl + 1;
    }
    carry = start < buf.length ? Buffer.from(buf.subarray(start)) : null;
  };
  if (typeof source === 'string' || source instanceof Uint8Array) feed(source);
  else if (Symbol.asyncIterator in source) for await (const chunk of source) feed(chunk);
  else for (const chunk of source) feed(chunk);
  const rest = carry as Buffer | null; // assigned in feed(), which TypeScript cannot see
  if (rest) onLine(rest, 0, rest.length); // a last line without its newline
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
  const every = Math.max(1, opts.progressEvery ?? 100_000);
  const onProgress = opts.onProgress;
  await forEachLine(source, (bytes, start, stop) => {
    checker.line(bytes, start, stop);
    if (onProgress && checker.tree.size % every === 0) onProgress(checker.tree.size);
  });
  checker.finish();
  problems.push(...checker.problems);
  const events = checker.tree.size;
  onProgress?.(events);

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

/** Verifies an export file, streaming it in large chunks (memory stays O(log n) plus one chunk). */
export async function verifyLogFile(path: string, opts: VerifyLogOptions): Promise<VerifyLogResult> {
  return verifyLog(createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>, opts);
}
