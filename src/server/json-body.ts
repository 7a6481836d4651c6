import type { FastifyInstance, FastifyRequest } from 'fastify';
import { CountersignError } from '../core/errors.js';

/** Deeper than this, a body is refused before anything recurses over it (schemas allow 32 in fields). */
const MAX_BODY_DEPTH = 64;

// In `u` mode a surrogate pair is one code point outside this range: only a lone surrogate matches.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/**
 * Where a parsed JSON value breaks what the rest of the gateway relies on, or null when it is fine:
 * - a lone UTF-16 surrogate in a string or key (`"\ud800"` is valid JSON, but no UTF-8 can hold it, so
 *   the digest, JCS and the store could not either);
 * - a number out of range (`1e400` parses to Infinity, which JSON cannot write back);
 * - nesting deeper than MAX_BODY_DEPTH.
 * Iterative, so a deeply nested body cannot exhaust the stack.
 */
export function jsonProblem(root: unknown): string | null {
  // Each value remembers its parent and key; a path is spelled out only for the problem reported.
  const stack: Item[] = [{ value: root, depth: 0, parent: null, key: '' }];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const { value, depth } = item;
    if (typeof value === 'string') {
      if (LONE_SURROGATE.test(value))
        return `${where(pathOf(item))} holds a lone UTF-16 surrogate, which is not text`;
    } else if (typeof value === 'number') {
      if (!Number.isFinite(value)) return `${where(pathOf(item))} is a number out of range`;
    } else if (value !== null && typeof value === 'object') {
      if (depth >= MAX_BODY_DEPTH) return `the body is nested deeper than ${MAX_BODY_DEPTH} levels`;
      if (Array.isArray(value)) {
        value.forEach((v, i) => stack.push({ value: v, depth: depth + 1, parent: item, key: i }));
      } else {
        for (const [k, v] of Object.entries(value)) {
          if (LONE_SURROGATE.test(k)) return `a key in ${where(pathOf(item))} holds a lone UTF-16 surrogate`;
          stack.push({ value: v, depth: depth + 1, parent: item, key: k });
        }
      }
    }
  }
  return null;
}

interface Item {
  value: unknown;
  depth: number;
  parent: Item | null;
  /** Its key in the parent object, or index in the parent array. */
  key: string | number;
}

/** `a.b[2].c`, or '' for the body itself: spelled as the walk would have, from the root down. */
function pathOf(item: Item): string {
  const keys: (string | number)[] = [];
  for (let at: Item | null = item; at?.parent; at = at.parent) keys.push(at.key);
  let path = '';
  for (const key of keys.reverse()) {
    if (typeof key === 'number') path = `${path}[${key}]`;
    else path = path === '' ? key : `${path}.${key}`;
  }
  return path;
}

const where = (path: string): string => (path === '' ? 'the body' : path);

/**
 * Fastify's JSON body parser (with its prototype-poisoning checks), plus two rules: an empty body means
 * `{}` — clients that always send `Content-Type: application/json` may send no body where every field is
 * optional (a review's comment) — and a value that `jsonProblem` refuses is a 400 INVALID_REQUEST here
 * at the edge, instead of an error deep in the digest or the store.
 */
export function registerJsonBodyParser(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser(
    'application/json',
    { parseAs: 'string' },
    (req: FastifyRequest, body: string | Buffer, done: (err: Error | null, body?: unknown) => void) => {
      const text = typeof body === 'string' ? body : body.toString('utf8');
      // Whitespace only (tested without copying the body, which may be megabytes).
      if (!/\S/.test(text)) {
        done(null, {});
        return;
      }
      void parse(req, text, (err: Error | null, value?: unknown) => {
        if (err) return done(err);
        const problem = jsonProblem(value);
        if (problem !== null)
          return done(new CountersignError('INVALID_REQUEST', `invalid body: ${problem}`));
        done(null, value);
      });
    },
  );
}
