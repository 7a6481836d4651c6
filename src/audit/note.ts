/**
 * C2SP signed notes (https://c2sp.org/signed-note) with Ed25519, compatible with Go's
 * golang.org/x/mod/sumdb/note, and stricter where C2SP is: only canonical base64, and every
 * signature by a known key is verified, repeats included.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
} from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { decodeBase64Strict } from './strict-base64.js';

export type NoteErrorCode = 'MALFORMED_NOTE' | 'UNKNOWN_KEY' | 'BAD_SIGNATURE' | 'BAD_KEY';

export class NoteError extends Error {
  override readonly name = 'NoteError';
  readonly code: NoteErrorCode;
  constructor(code: NoteErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

export interface NoteSigner {
  readonly name: string;
  readonly keyHash: number;
  readonly verifierKey: string;
  sign(message: Uint8Array): Buffer;
}

export interface NoteVerifier {
  name: string;
  keyHash: number;
  verify(msg: Uint8Array, sig: Uint8Array): boolean;
}

const ALG_ED25519 = 0x01;
const SIG_PREFIX = '\u2014 '; // em dash, space
const MAX_SIGNATURES = 100; // Go's limit; C2SP asks verifiers to accept at least 16
// DER prefixes that wrap a raw Ed25519 seed (PKCS#8) or public key (SPKI) for node:crypto.
const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_ED25519 = Buffer.from('302a300506032b6570032100', 'hex');

/** A key name: non-empty, no whitespace, no '+'. */
export function isValidKeyName(name: string): boolean {
  return name !== '' && !/[\s+]/u.test(name) && isWellFormed(name);
}

function isWellFormed(s: string): boolean {
  // A lone surrogate cannot be encoded as UTF-8.
  return !/\p{Surrogate}/u.test(s);
}

/** The C2SP key hash: the first 4 bytes (big-endian) of SHA-256(name || "\n" || alg || key). */
export function keyHash(name: string, algAndKey: Uint8Array): number {
  return createHash('sha256').update(name, 'utf8').update('\n').update(algAndKey).digest().readUInt32BE(0);
}

const hex8 = (n: number) => n.toString(16).padStart(8, '0');

function chop(s: string, sep: string): [string, string] {
  const i = s.indexOf(sep);
  return i < 0 ? [s, ''] : [s.slice(0, i), s.slice(i + sep.length)];
}

function parseKeyHash(hash16: string): number | null {
  return /^[0-9a-fA-F]{8}$/.test(hash16) ? Number.parseInt(hash16, 16) : null;
}

function publicFromSeed(seed: Buffer): { privateKey: KeyObject; publicKey: Buffer } {
  const privateKey = createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519, seed]),
    format: 'der',
    type: 'pkcs8',
  });
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  return { privateKey, publicKey: spki.subarray(SPKI_ED25519.length) };
}

/** A new Ed25519 key as a `PRIVATE+KEY+name+hash+base64(0x01||seed)` string (Go's note format). */
export function generateSignerKey(name: string): string {
  if (!isValidKeyName(name)) throw new NoteError('BAD_KEY', `invalid key name ${JSON.stringify(name)}`);
  const { privateKey } = generateKeyPairSync('ed25519');
  const pkcs8 = privateKey.export({ format: 'der', type: 'pkcs8' });
  const seed = pkcs8.subarray(PKCS8_ED25519.length);
  const { publicKey } = publicFromSeed(seed);
  const hash = keyHash(name, Buffer.concat([Buffer.of(ALG_ED25519), publicKey]));
  return `PRIVATE+KEY+${name}+${hex8(hash)}+${Buffer.concat([Buffer.of(ALG_ED25519), seed]).toString('base64')}`;
}

export function signerFromPrivateKey(skey: string): NoteSigner {
  const bad = (why: string) => new NoteError('BAD_KEY', `invalid note signing key: ${why}`);
  const [priv1, r1] = chop(skey, '+');
  const [priv2, r2] = chop(r1, '+');
  const [name, r3] = chop(r2, '+');
  const [hash16, key64] = chop(r3, '+');
  if (priv1 !== 'PRIVATE' || priv2 !== 'KEY') throw bad('it must start with PRIVATE+KEY+');
  if (!isValidKeyName(name)) throw bad(`invalid key name ${JSON.stringify(name)}`);
  const hash = parseKeyHash(hash16);
  if (hash === null) throw bad('the key hash must be 8 hex digits');
  const key = decodeBase64Strict(key64);
  if (!key || key.length === 0) throw bad('the key is not base64');
  if (key[0] !== ALG_ED25519) throw bad(`unknown algorithm ${key[0]} (only 1, Ed25519, is supported)`);
  if (key.length !== 33) throw bad('an Ed25519 seed is 32 bytes');
  const { privateKey, publicKey } = publicFromSeed(key.subarray(1));
  const algAndPublic = Buffer.concat([Buffer.of(ALG_ED25519), publicKey]);
  if (keyHash(name, algAndPublic) !== hash) throw bad('the key hash does not match the key');
  return Object.freeze({
    name,
    keyHash: hash,
    verifierKey: `${name}+${hex8(hash)}+${algAndPublic.toString('base64')}`,
    sign: (message: Uint8Array) => sign(null, message, privateKey),
  });
}

/** Parses a C2SP verifier key `name+hash+base64(0x01||pubkey)`; throws NoteError BAD_KEY. */
export function verifierFromKey(vkey: string): NoteVerifier {
  const bad = (why: string) => new NoteError('BAD_KEY', `invalid verifier key: ${why}`);
  const [name, r1] = chop(vkey, '+');
  const [hash16, key64] = chop(r1, '+');
  if (!isValidKeyName(name)) throw bad(`invalid key name ${JSON.stringify(name)}`);
  const hash = parseKeyHash(hash16);
  if (hash === null) throw bad('the key hash must be 8 hex digits');
  const key = decodeBase64Strict(key64);
  if (!key || key.length === 0) throw bad('the key is not base64');
  if (keyHash(name, key) !== hash) throw bad('the key hash does not match the key');
  if (key[0] !== ALG_ED25519) throw bad(`unknown algorithm ${key[0]} (only 1, Ed25519, is supported)`);
  if (key.length !== 33) throw bad('an Ed25519 public key is 32 bytes');
  const publicKey = createPublicKey({
    key: Buffer.concat([SPKI_ED25519, key.subarray(1)]),
    format: 'der',
    type: 'spki',
  });
  return Object.freeze({
    name,
    keyHash: hash,
    verify: (msg: Uint8Array, sig: Uint8Array) => sig.length === 64 && verify(null, msg, publicKey, sig),
  });
}

/** Note text: valid UTF-8, ends in a newline, no ASCII control characters other than newline. */
function checkText(text: string): void {
  if (!text.endsWith('\n')) throw new NoteError('MALFORMED_NOTE', 'note text must end with a newline');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0009\u000b-\u001f]/.test(text) || !isWellFormed(text)) {
    throw new NoteError(
      'MALFORMED_NOTE',
      'note text must be UTF-8 without control characters other than newline',
    );
  }
}

/** The signed note: text, a blank line, then one signature line per signer. */
export function signNote(text: string, signers: NoteSigner[]): string {
  checkText(text);
  if (signers.length === 0) throw new NoteError('BAD_KEY', 'a note needs at least one signer');
  const msg = Buffer.from(text, 'utf8');
  let out = `${text}\n`;
  for (const s of signers) {
    const head = Buffer.alloc(4);
    head.writeUInt32BE(s.keyHash >>> 0);
    out += `${SIG_PREFIX}${s.name} ${Buffer.concat([head, s.sign(msg)]).toString('base64')}\n`;
  }
  return out;
}

/**
 * Verifies a signed note against trusted keys. Signatures by unknown keys are ignored (they may be
 * witnesses); every signature by a known key must verify; at least one must. Throws NoteError.
 */
export function openNote(
  note: string | Uint8Array,
  verifiers: NoteVerifier[],
): { text: string; verifiedBy: string[] } {
  const malformed = (why: string) => new NoteError('MALFORMED_NOTE', `malformed note: ${why}`);
  let msg: string;
  if (typeof note === 'string') msg = note;
  else {
    try {
      msg = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(note);
    } catch {
      throw malformed('not valid UTF-8');
    }
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0009\u000b-\u001f]/.test(msg) || !isWellFormed(msg)) {
    throw malformed('control characters other than newline, or invalid UTF-8');
  }
  const split = msg.lastIndexOf('\n\n');
  if (split < 0) throw malformed('no blank line before the signatures');
  const text = msg.slice(0, split + 1);
  const sigs = msg.slice(split + 2);
  if (sigs === '' || !sigs.endsWith('\n')) throw malformed('the signature block must end with a newline');
  const lines = sigs.slice(0, -1).split('\n');
  if (lines.length > MAX_SIGNATURES) throw malformed(`more than ${MAX_SIGNATURES} signatures`);

  const textBytes = Buffer.from(text, 'utf8');
  const verifiedBy: string[] = [];
  const unknown: string[] = [];
  for (const line of lines) {
    if (!line.startsWith(SIG_PREFIX))
      throw malformed(`not a signature line: ${JSON.stringify(line.slice(0, 60))}`);
    const [name, b64] = chop(line.slice(SIG_PREFIX.length), ' ');
    const sig = decodeBase64Strict(b64);
    if (!isValidKeyName(name) || !sig || sig.length < 5) {
      throw malformed(`bad signature line: ${JSON.stringify(line.slice(0, 60))}`);
    }
    const hash = sig.readUInt32BE(0);
    const v = verifiers.find((k) => k.name === name && k.keyHash === hash);
    if (!v) {
      unknown.push(`${name}+${hex8(hash)}`);
      continue;
    }
    if (!v.verify(textBytes, sig.subarray(4))) {
      throw new NoteError('BAD_SIGNATURE', `the signature by ${name}+${hex8(hash)} does not verify`);
    }
    if (!verifiedBy.includes(name)) verifiedBy.push(name);
  }
  if (verifiedBy.length === 0) {
    const known = verifiers.map((k) => `${k.name}+${hex8(k.keyHash)}`).join(', ') || 'none';
    throw new NoteError(
      'UNKNOWN_KEY',
      `no signature by a known key (signed by ${unknown.join(', ')}; known: ${known})`,
    );
  }
  return { text, verifiedBy };
}
