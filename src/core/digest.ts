import { hash } from 'node:crypto';

// String.prototype.isWellFormed (ES2024, in Node 20): false when the string has a lone UTF-16 surrogate.
const isWellFormed = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed();

/**
 * RFC 8785 (JCS) canonical JSON text of a JSON value: object keys sorted by UTF-16 code units, strings
 * and numbers as ECMAScript's JSON.stringify writes them (which is what JCS specifies), no whitespace.
 * `toJSON` is honoured and `undefined` / symbol / function members are left out, as JSON.stringify does.
 * Throws on what JSON cannot represent faithfully: NaN, Infinity, lone surrogates, BigInt, cycles, and a
 * top-level value with no JSON form.
 *
 * Same output as the `canonicalize` package (the test suite compares them), written for speed: it is run
 * on every submission's digest, payload and audit leaf.
 */
export function canonicalJson(value: unknown): string {
  const text = write(value, 0);
  if (text === undefined) throw new TypeError('value cannot be represented as JSON');
  return text;
}

// Deeper than this is taken for a cycle (a real cycle would recurse forever); no JSON we write comes near.
const MAX_DEPTH = 1000;

function write(value: unknown, depth: number): string | undefined {
  switch (typeof value) {
    case 'string':
      if (!isWellFormed(value)) throw new Error('Lone surrogate is not allowed');
      return JSON.stringify(value);
    case 'number':
      if (Number.isNaN(value)) throw new Error('NaN is not allowed');
      if (!Number.isFinite(value)) throw new Error('Infinity is not allowed');
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object':
      if (value === null) return 'null';
      if (depth >= MAX_DEPTH) {
        throw new Error(`Circular reference detected (or nesting deeper than ${MAX_DEPTH} levels)`);
      }
      return writeObject(value, depth + 1);
    case 'bigint':
      throw new TypeError('BigInt value cannot be represented as JSON');
    default:
      // undefined, function, symbol: no JSON form
      return undefined;
  }
}

function writeObject(object: object, depth: number): string | undefined {
  const toJSON = (object as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') return write(toJSON.call(object), depth);
  if (Array.isArray(object)) {
    let out = '[';
    for (let i = 0; i < object.length; i++) {
      if (i > 0) out += ',';
      out += write(object[i], depth) ?? 'null';
    }
    return out + ']';
  }
  const record = object as Record<string, unknown>;
  const keys = Object.keys(record).sort();
  let out = '';
  for (const key of keys) {
    const member = write(record[key], depth);
    if (member === undefined) continue;
    if (!isWellFormed(key)) throw new Error('Lone surrogate is not allowed');
    out += (out === '' ? '{' : ',') + JSON.stringify(key) + ':' + member;
  }
  return out === '' ? '{}' : out + '}';
}

export function sha256Hex(data: string | Uint8Array): string {
  return hash('sha256', data, 'hex');
}

export interface DigestInput {
  action: string;
  resource: string;
  environment: string;
  parameters: unknown;
}

/** `sha256:` + hex SHA-256 of the JCS form of exactly {action, resource, environment, parameters}. */
export function actionDigest(input: DigestInput): string {
  const bound = {
    action: input.action,
    resource: input.resource,
    environment: input.environment,
    parameters: input.parameters,
  };
  return `sha256:${sha256Hex(canonicalJson(bound))}`;
}
