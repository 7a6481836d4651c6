import type { z } from 'zod';
import { CountersignError } from '../core/errors.js';

/** Parses `value` with `schema`, or throws INVALID_REQUEST naming each bad field and what is wrong with it. */
export function parseInput<S extends z.ZodType>(
  schema: S,
  value: unknown,
  where: 'body' | 'query' | 'path',
): z.infer<S> {
  const result = schema.safeParse(value ?? (where === 'body' ? {} : value));
  if (result.success) return result.data;
  const problems = result.error.issues.slice(0, 10).map((i) => {
    const field = i.path.length > 0 ? i.path.join('.') : where;
    return `${field}: ${i.message}`;
  });
  throw new CountersignError('INVALID_REQUEST', `invalid ${where}: ${problems.join('; ')}`);
}
