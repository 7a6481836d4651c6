import { randomFillSync } from 'node:crypto';

// Random bytes are drawn from the CSPRNG in blocks and handed out once each (as Node's randomUUID does):
// one call into OpenSSL per 256 ids instead of one per id.
const POOL_BYTES = 4096;
const pool = Buffer.alloc(POOL_BYTES);
let offset = POOL_BYTES;

function randomHex(bytes: number): string {
  if (offset + bytes > POOL_BYTES) {
    randomFillSync(pool);
    offset = 0;
  }
  const hex = pool.toString('hex', offset, offset + bytes);
  offset += bytes;
  return hex;
}

/**
 * `<prefix>_` + 12 hex digits of the creation time in milliseconds + 20 random hex digits (80 bits).
 *
 * Still opaque and unguessable, but ids made later sort later, so that the indexes keyed by them (the
 * requests' primary key, the payloads', the audit events' request id) grow at their right edge: a group
 * commit then writes a few index pages, not one random page per request and index.
 */
export function timeOrderedId(prefix: string, nowMs: number): string {
  return `${prefix}_${Math.max(0, Math.floor(nowMs)).toString(16).padStart(12, '0')}${randomHex(10)}`;
}
