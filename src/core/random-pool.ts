import { randomFillSync } from 'node:crypto';

// Random bytes are drawn from the CSPRNG in blocks and handed out once each (as Node's randomUUID does):
// one call into OpenSSL per 4 KiB instead of one per id or IV, which on the submit path costs more than
// the bytes themselves. Every byte comes from the CSPRNG and is used once, so what is drawn from here is
// as unpredictable and as unique as a fresh randomBytes() call.
const POOL_BYTES = 4096;
const pool = Buffer.alloc(POOL_BYTES);
let offset = POOL_BYTES;

function take(bytes: number): number {
  if (bytes > POOL_BYTES) throw new RangeError(`at most ${POOL_BYTES} random bytes at a time`);
  if (offset + bytes > POOL_BYTES) {
    randomFillSync(pool);
    offset = 0;
  }
  const start = offset;
  offset += bytes;
  return start;
}

/** `bytes` random bytes as lowercase hex. */
export function randomHex(bytes: number): string {
  const start = take(bytes);
  return pool.toString('hex', start, start + bytes);
}

/** `bytes` random bytes in a Buffer of their own (a copy: the pool is reused). */
export function randomBuffer(bytes: number): Buffer {
  const start = take(bytes);
  return Buffer.from(pool.subarray(start, start + bytes));
}
