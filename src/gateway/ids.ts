import { randomHex } from '../core/random-pool.js';

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
