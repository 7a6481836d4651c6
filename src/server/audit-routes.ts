/** The verifiable audit log over HTTP (DESIGN.md "Audit log format"), and the auditor's payload reveal. */
import { z } from 'zod';
import type { Checkpointer } from '../audit/checkpointer.js';
import { toRecord } from '../audit/event.js';
import { openPayload, type PayloadKeyring } from '../audit/payload-crypto.js';
import { proveConsistency, proveInclusion } from '../audit/tree-store.js';
import type { Clock } from '../core/clock.js';
import { CountersignError } from '../core/errors.js';
import type { Principal } from '../core/types.js';
import type { Store } from '../store/store.js';
import type { RouteSpec } from './route.js';
import { IdParams } from './schemas.js';
import { parseInput } from './validate.js';

export interface AuditRouteDeps {
  checkpointer: Checkpointer;
  payloadKeys: PayloadKeyring;
  clock: Clock;
}

const MAX_PAGE = 10_000;

/** A whole number in a query string; coercion would read `index=` as 0. */
const count = (what: string) =>
  z
    .string()
    .regex(/^\d{1,15}$/, `${what} must be a whole number >= 0`)
    .transform(Number);

const EventsQuery = z
  .object({
    after: count('after').default(0).describe('Return events with seq greater than this (default 0).'),
    limit: count('limit')
      .default(1000)
      .refine((n) => n >= 1 && n <= MAX_PAGE, `limit must be 1-${MAX_PAGE}`)
      .describe(`Page size, 1-${MAX_PAGE} (default 1000).`),
  })
  .strict();
const InclusionQuery = z
  .object({ index: count('index').describe('0-based leaf index (seq - 1).'), size: count('size') })
  .strict();
const ConsistencyQuery = z.object({ from: count('from'), to: count('to') }).strict();
const RevealBody = z
  .object({
    reason: z.string().trim().min(1, 'a reason is required').max(4000).describe('Why you reveal it.'),
  })
  .strict();

const AuditRecordSchema = z.object({
  seq: z.number().int(),
  at: z.string(),
  type: z.string(),
  requestId: z.string().nullable(),
  actor: z.object({
    id: z.string(),
    kind: z.string(),
    personId: z.string().nullable(),
    channel: z.string(),
  }),
  data: z.record(z.string(), z.unknown()),
});
const EventsPage = z.object({
  events: z.array(AuditRecordSchema),
  next: z.number().int().nullable().describe('Pass as `after` for the next page; null at the end.'),
});
const InclusionProof = z.object({ index: z.number(), size: z.number(), proof: z.array(z.string()) });
const ConsistencyProof = z.object({ from: z.number(), to: z.number(), proof: z.array(z.string()) });
const Revealed = z.object({
  requestId: z.string(),
  payload: z.object({ parameters: z.unknown(), reason: z.string().nullable(), context: z.unknown() }),
  payloadSha256: z.string(),
  keyId: z.string(),
});

const READ_ROLES = 'the auditor or admin role';

function requireAuditReader(p: Principal): void {
  if (!p.roles.includes('auditor') && !p.roles.includes('admin')) {
    throw new CountersignError('FORBIDDEN', `reading the audit log needs ${READ_ROLES}`);
  }
}

export function auditRoutes(store: Store, deps: AuditRouteDeps): RouteSpec[] {
  const tags = ['audit'];
  const forbidden = { 403: { description: `Without ${READ_ROLES}` } };
  return [
    {
      method: 'GET',
      url: '/v1/audit/events',
      summary: 'Audit events in seq order, paged; each is exactly the object whose JCS form is its leaf',
      tags,
      auth: true,
      query: EventsQuery,
      responses: { 200: { description: 'A page of events', schema: EventsPage }, ...forbidden },
      handler: async ({ req, principal }) => {
        requireAuditReader(principal);
        const q = parseInput(EventsQuery, req.query, 'query');
        // One more than asked tells whether another page follows.
        const events = await store.listAuditEvents(q.after, q.limit + 1);
        const page = events.slice(0, q.limit).map(toRecord);
        return { events: page, next: events.length > q.limit ? (page.at(-1)?.seq ?? null) : null };
      },
    },
    {
      method: 'GET',
      url: '/v1/audit/checkpoint',
      summary: 'The latest checkpoint: a C2SP tlog-checkpoint signed note',
      tags,
      auth: true,
      responses: {
        200: { description: 'The signed note', contentType: 'text/plain' },
        404: { description: 'No checkpoint has been signed yet' },
        ...forbidden,
      },
      handler: async ({ reply, principal }) => {
        requireAuditReader(principal);
        const latest = await store.latestCheckpoint();
        if (latest === null) {
          throw new CountersignError('NOT_FOUND', 'no checkpoint yet: POST /v1/audit/checkpoint signs one');
        }
        void reply.header('content-type', 'text/plain; charset=utf-8');
        return latest.note;
      },
    },
    {
      method: 'POST',
      url: '/v1/audit/checkpoint',
      summary: 'Sign a checkpoint of the log as it is now, and return it',
      tags,
      auth: true,
      responses: { 200: { description: 'The signed note', contentType: 'text/plain' }, ...forbidden },
      handler: async ({ reply, principal }) => {
        requireAuditReader(principal);
        const checkpoint = await deps.checkpointer.checkpoint();
        void reply.header('content-type', 'text/plain; charset=utf-8');
        return checkpoint.note;
      },
    },
    {
      method: 'GET',
      url: '/v1/audit/verifier-key',
      summary: "The C2SP signed-note verifier key of the checkpoints' signer",
      tags,
      auth: true,
      responses: { 200: { description: 'The verifier key', contentType: 'text/plain' }, ...forbidden },
      handler: async ({ reply, principal }) => {
        requireAuditReader(principal);
        void reply.header('content-type', 'text/plain; charset=utf-8');
        return `${deps.checkpointer.verifierKey}\n`;
      },
    },
    {
      method: 'GET',
      url: '/v1/audit/proof/inclusion',
      summary: 'RFC 9162 inclusion proof of leaf `index` in the tree of `size` leaves',
      tags,
      auth: true,
      query: InclusionQuery,
      responses: {
        200: { description: 'The audit path, base64 hashes', schema: InclusionProof },
        400: { description: 'index or size out of range' },
        ...forbidden,
      },
      handler: async ({ req, principal }) => {
        requireAuditReader(principal);
        const { index, size } = parseInput(InclusionQuery, req.query, 'query');
        const proof = await proveInclusion(store, index, size);
        return { index, size, proof: proof.map((h) => h.toString('base64')) };
      },
    },
    {
      method: 'GET',
      url: '/v1/audit/proof/consistency',
      summary: 'RFC 9162 consistency proof between the trees of `from` and `to` leaves',
      tags,
      auth: true,
      query: ConsistencyQuery,
      responses: {
        200: { description: 'The consistency proof, base64 hashes', schema: ConsistencyProof },
        400: { description: 'from or to out of range' },
        ...forbidden,
      },
      handler: async ({ req, principal }) => {
        requireAuditReader(principal);
        const { from, to } = parseInput(ConsistencyQuery, req.query, 'query');
        const proof = await proveConsistency(store, from, to);
        return { from, to, proof: proof.map((h) => h.toString('base64')) };
      },
    },
    {
      method: 'POST',
      url: '/v1/requests/:id/reveal',
      summary: "Reveal a request's full, unmasked payload (auditor only; the reveal is audited)",
      tags,
      auth: true,
      params: IdParams,
      body: RevealBody,
      responses: {
        200: { description: 'The decrypted payload', schema: Revealed },
        403: { description: 'Without the auditor role' },
        404: { description: 'No such request, or no payload stored for it' },
      },
      handler: async ({ req, principal }) => {
        if (!principal.roles.includes('auditor')) {
          throw new CountersignError('FORBIDDEN', 'revealing a payload needs the auditor role');
        }
        const { id } = parseInput(IdParams, req.params, 'path');
        const { reason } = parseInput(RevealBody, req.body, 'body');
        const sealed = await store.getRequestPayload(id);
        if (sealed === null)
          throw new CountersignError('NOT_FOUND', `no stored payload for request ${JSON.stringify(id)}`);
        let payload;
        try {
          payload = openPayload(deps.payloadKeys, id, sealed);
        } catch (err) {
          throw new CountersignError('INTERNAL', `cannot reveal ${id}: ${(err as Error).message}`, {
            cause: err,
          });
        }
        // Audited before anything is returned: a reveal whose event did not commit shows nothing.
        await store.appendAuditEvents([
          {
            type: 'request.revealed',
            at: deps.clock.now().toISOString(),
            requestId: id,
            actor: { id: principal.id, kind: principal.kind, personId: principal.personId, channel: 'api' },
            data: { reason, payloadSha256: sealed.sha256, keyId: sealed.keyId },
          },
        ]);
        return { requestId: id, payload, payloadSha256: sealed.sha256, keyId: sealed.keyId };
      },
    },
  ];
}
