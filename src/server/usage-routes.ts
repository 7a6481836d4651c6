import { z } from 'zod';
import type { Clock } from '../core/clock.js';
import { parseDuration } from '../core/duration.js';
import { CountersignError } from '../core/errors.js';
import { aggregateUsage, USAGE_KEYS, type UsageKey } from '../dlp/usage.js';
import type { Store } from '../store/store.js';
import type { RouteSpec } from './route.js';
import { parseInput } from './validate.js';

// The report reads every request in the window; beyond this it asks for a narrower one.
const MAX_REQUESTS = 200_000;

/** `2026-11-01T00:00:00Z`, `2026-11-01`, or a duration back from now such as `7d`. */
export function parseInstant(text: string, now: Date, field: string): string {
  const back = parseDuration(text);
  if (back !== null) return new Date(now.getTime() - back).toISOString();
  const t = Date.parse(text);
  if (Number.isNaN(t)) {
    throw new CountersignError(
      'INVALID_REQUEST',
      `${field} must be an ISO-8601 time or a duration such as 7d, got ${JSON.stringify(text)}`,
    );
  }
  return new Date(t).toISOString();
}

export const UsageQuery = z
  .object({
    since: z
      .string()
      .max(64)
      .default('7d')
      .describe('ISO-8601 time or a duration back from now (default 7d).'),
    until: z.string().max(64).optional().describe('ISO-8601 time or a duration back from now (default now).'),
    by: z
      .string()
      .max(100)
      .default('principal,class')
      .describe(`Comma-separated grouping keys: ${USAGE_KEYS.join(', ')}.`),
  })
  .strict();

const UsageRow = z.object({
  group: z.record(z.string(), z.string()),
  requests: z.number().int(),
  records: z.number(),
  bytes: z.number(),
  external: z.number().int(),
});

export const UsageReport = z.object({
  since: z.string(),
  until: z.string(),
  by: z.array(z.enum(USAGE_KEYS)),
  rows: z.array(UsageRow),
  totals: z.object({
    requests: z.number().int(),
    records: z.number(),
    bytes: z.number(),
    external: z.number().int(),
  }),
  externalDestinations: z.array(z.object({ destination: z.string(), requests: z.number().int() })),
});

/** `GET /v1/usage`: which agents touched which classes of data, and where it went. */
export function usageRoutes(store: Store, clock: Clock, trusted: readonly string[]): RouteSpec[] {
  return [
    {
      method: 'GET',
      url: '/v1/usage',
      summary: 'Data usage: requests, records and bytes by principal, class, destination or action',
      tags: ['data usage'],
      auth: true,
      query: UsageQuery,
      responses: { 200: { description: 'The usage report', schema: UsageReport } },
      handler: async ({ req, principal }) => {
        if (!principal.roles.includes('admin') && !principal.roles.includes('auditor')) {
          throw new CountersignError('FORBIDDEN', 'the usage report needs the admin or auditor role');
        }
        const q = parseInput(UsageQuery, req.query, 'query');
        const now = clock.now();
        const since = parseInstant(q.since, now, 'since');
        const until = q.until === undefined ? now.toISOString() : parseInstant(q.until, now, 'until');
        const by = q.by.split(',').map((k) => k.trim());
        for (const k of by) {
          if (!(USAGE_KEYS as readonly string[]).includes(k)) {
            throw new CountersignError(
              'INVALID_REQUEST',
              `by: unknown key ${JSON.stringify(k)}; use ${USAGE_KEYS.join(', ')}`,
            );
          }
        }
        const requests = await store.listRequests({
          createdFrom: since,
          createdBefore: until,
          limit: MAX_REQUESTS + 1,
        });
        if (requests.length > MAX_REQUESTS) {
          throw new CountersignError(
            'INVALID_REQUEST',
            `more than ${MAX_REQUESTS} requests in this window; narrow since/until`,
          );
        }
        const report = aggregateUsage(
          requests.map((r) => ({
            action: r.action,
            requester: { id: r.requester.id, name: r.requester.name },
            classes: r.dlp.classes,
            flow: r.context.data,
            status: r.status,
          })),
          [...new Set(by)] as UsageKey[],
          trusted,
        );
        return { since, until, ...report };
      },
    },
  ];
}
