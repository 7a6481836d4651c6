import { UsageError } from './exit-codes.js';

// Keys that would reach Object.prototype through a plain object: refused, not silently dropped.
const FORBIDDEN_KEYS = new Set(['__proto__', 'prototype', 'constructor']);

/**
 * Builds action parameters from `--params-json JSON` (the base object) and repeated `--param k=v` flags
 * applied on top. A value is parsed as JSON when it is valid JSON (`n=3`, `on=true`, `tags=["a"]`),
 * else taken as a string; a dotted key (`db.host=x`) makes nested objects. Throws UsageError.
 */
export function parseParams(pairs: readonly string[], json?: string): Record<string, unknown> {
  const params: Record<string, unknown> = json === undefined ? {} : parseJsonObject(json);
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--param must look like key=value, got "${pair}"`);
    const key = pair.slice(0, eq);
    const path = key.split('.');
    if (path.some((p) => p === '')) throw new UsageError(`--param key "${key}" has an empty segment`);
    setPath(params, path, key, parseValue(pair.slice(eq + 1)));
  }
  return params;
}

function parseValue(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function parseJsonObject(json: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (error) {
    throw new UsageError(`--params-json is not valid JSON: ${(error as Error).message}`);
  }
  if (!isPlainObject(value))
    throw new UsageError('--params-json must be a JSON object, e.g. {"replicas": 3}');
  return value;
}

function setPath(target: Record<string, unknown>, path: string[], key: string, value: unknown): void {
  let node = target;
  for (let i = 0; i < path.length; i++) {
    const segment = path[i] as string;
    if (FORBIDDEN_KEYS.has(segment))
      throw new UsageError(`--param key "${key}" uses a reserved name "${segment}"`);
    if (i === path.length - 1) {
      node[segment] = value;
      return;
    }
    const next = Object.hasOwn(node, segment) ? node[segment] : undefined;
    if (next === undefined) {
      const child: Record<string, unknown> = {};
      node[segment] = child;
      node = child;
    } else if (isPlainObject(next)) {
      node = next;
    } else {
      throw new UsageError(
        `--param "${key}": ${path.slice(0, i + 1).join('.')} is already set to a non-object value`,
      );
    }
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
