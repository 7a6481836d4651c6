/**
 * The per-line work of offline verification, one batch of export lines at a time: the canonical-form
 * check, the leaf hashes and the tree over the batch, and each line's seq. It is plain data in, plain
 * data out, so it runs the same in the verifying thread or in a worker thread (verify-worker.ts); the
 * sequence checks and the tree above the batches stay with the caller (verify-log.ts), which applies
 * the results in line order.
 */
import { isUtf8 } from 'node:buffer';
import { canonicalJson } from '../core/digest.js';
import { scanCanonicalLine, type CanonicalScan } from './canonical-line.js';
import { TreeBuilder, leafHashInPlace, leafHashString, type HashString } from './merkle.js';

export interface BatchJob {
  /**
   * `count` lines, each ending in `\n`, from byte 1 on; byte 0 is scratch. The batch owns these bytes
   * while it runs (the leaf hashing writes a 0x00 before each line for the length of a call).
   */
  bytes: Uint8Array;
  count: number;
  /** The 1-based line number of the batch's first line in the export. */
  firstLine: number;
  /** Sizes within the batch (1..count), ascending, at which the caller wants the batch's stack. */
  snapshots: readonly number[];
}

export interface BatchLineProblem {
  line: number;
  message: string;
}

export interface BatchResult {
  count: number;
  /** Roots of the perfect subtrees of the batch's leaves, largest first (one when count is 2^k). */
  stack: HashString[];
  /** `stack` as it was after the first `size` lines of the batch, for each size in `job.snapshots`. */
  snapshots: { size: number; stack: HashString[] }[];
  /** Each line's top-level `seq` when it is a number, else NaN. */
  seqs: Float64Array;
  /** The lines that are not JSON objects (check `json`), in line order. */
  problems: BatchLineProblem[];
  /** Lines not in canonical form (including those with problems). */
  nonCanonical: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function checkBatch(job: BatchJob): BatchResult {
  const bytes = Buffer.from(job.bytes.buffer, job.bytes.byteOffset, job.bytes.byteLength);
  // One native (SIMD) pass validates the batch's UTF-8, so the scan need not validate each sequence.
  // '\n' is never part of a multi-byte sequence, so every line of a valid batch is valid too.
  const utf8Valid = isUtf8(bytes);
  const tree = new TreeBuilder();
  const seqs = new Float64Array(job.count);
  const problems: BatchLineProblem[] = [];
  const snapshots: BatchResult['snapshots'] = [];
  const scan: CanonicalScan = { canonical: false, seq: Number.NaN };
  let nonCanonical = 0;
  let nextSnapshot = 0;
  let start = 1;
  for (let i = 0; i < job.count; i++) {
    const stop = bytes.indexOf(0x0a, start);
    if (stop < 0) throw new RangeError(`batch at line ${job.firstLine} holds fewer than ${job.count} lines`);
    scanCanonicalLine(bytes, start, stop, scan, utf8Valid);
    if (scan.canonical) {
      tree.appendString(leafHashInPlace(bytes, start, stop));
      seqs[i] = scan.seq;
    } else {
      nonCanonical++;
      const leaf = slowLeaf(bytes.subarray(start, stop), job.firstLine + i, problems);
      tree.appendString(leafHashString(leaf.bytes));
      seqs[i] = leaf.seq;
    }
    if (job.snapshots[nextSnapshot] === i + 1) {
      snapshots.push({ size: i + 1, stack: tree.stack() });
      nextSnapshot++;
    }
    start = stop + 1;
  }
  return { count: job.count, stack: tree.stack(), snapshots, seqs, problems, nonCanonical };
}

/** JSON.parse and the reference canonicaliser; a line that fails is hashed as it is (and reported). */
function slowLeaf(
  raw: Uint8Array,
  line: number,
  problems: BatchLineProblem[],
): { bytes: Uint8Array; seq: number } {
  const fail = (message: string) => {
    problems.push({ line, message: `line ${line}: ${message}` });
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
