/**
 * C2SP tlog-checkpoint bodies (https://c2sp.org/tlog-checkpoint): the text a checkpoint note signs.
 *
 *   <origin>\n<tree size, decimal>\n<root hash, base64>\n[<extension line>\n]*
 */
import { decodeBase64Strict } from './strict-base64.js';

export interface Checkpoint {
  origin: string;
  size: number;
  root: Buffer;
}

export interface ParsedCheckpoint extends Checkpoint {
  extensions: string[];
}

export class CheckpointError extends Error {
  override readonly name = 'CheckpointError';
  readonly code = 'MALFORMED_CHECKPOINT';
}

const DECIMAL = /^(0|[1-9][0-9]*)$/;
const ROOT_SIZE = 32;

export function formatCheckpoint(c: Checkpoint & { extensions?: string[] }): string {
  if (c.origin === '' || c.origin.includes('\n'))
    throw new CheckpointError('origin must be one non-empty line');
  if (!Number.isSafeInteger(c.size) || c.size < 0) throw new CheckpointError(`bad tree size ${c.size}`);
  if (c.root.length !== ROOT_SIZE) throw new CheckpointError('root must be a 32-byte SHA-256 hash');
  const ext = c.extensions ?? [];
  if (ext.some((l) => l === '' || l.includes('\n')))
    throw new CheckpointError('extension lines must be non-empty');
  return [c.origin, String(c.size), c.root.toString('base64'), ...ext].join('\n') + '\n';
}

/**
 * Parses a checkpoint body, C2SP-strict: the size has no leading zeros (and must be below 2^53, as
 * JSON numbers are), the root is canonical base64 of 32 bytes, extension lines are non-empty.
 * `anyRootLength` lifts the 32-byte rule, for the body-parser vectors of other hash sizes only.
 */
export function parseCheckpoint(text: string, opts: { anyRootLength?: boolean } = {}): ParsedCheckpoint {
  const bad = (why: string) => new CheckpointError(`malformed checkpoint: ${why}`);
  if (!text.endsWith('\n')) throw bad('it must end with a newline');
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) throw bad('it needs an origin, a size and a root hash line');
  const [origin, sizeText, rootText, ...extensions] = lines as [string, string, string, ...string[]];
  if (origin === '') throw bad('the origin line is empty');
  if (!DECIMAL.test(sizeText)) throw bad(`the size ${JSON.stringify(sizeText)} is not a decimal number`);
  const size = Number(sizeText);
  if (!Number.isSafeInteger(size)) throw bad(`the size ${sizeText} is too large`);
  const root = decodeBase64Strict(rootText);
  if (!root) throw bad('the root hash is not base64');
  if (!opts.anyRootLength && root.length !== ROOT_SIZE) throw bad('the root hash is not 32 bytes');
  if (extensions.some((l) => l === '')) throw bad('empty extension line');
  return { origin, size, root, extensions };
}
