import { CountersignError } from '../core/errors.js';
import type { Channel } from '../core/types.js';
import type { Gateway } from '../gateway/gateway.js';
import { toView } from '../gateway/view.js';
import type { Metrics } from './metrics.js';
import type { RouteSpec } from './route.js';
import {
  CancelBody,
  IdParams,
  ListQuery,
  RequestList,
  RequestView,
  ReviewBody,
  SubmitBody,
  WaitQuery,
} from './schemas.js';
import { parseInput } from './validate.js';

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,200}$/;

/** The CLI marks its calls so reviews record `cli` as their channel; anything else is `api`. */
function channelOf(header: unknown): Channel {
  return header === 'cli' ? 'cli' : 'api';
}

/** The `/v1/actions` and `/v1/requests` routes. */
export function requestRoutes(gateway: Gateway, metrics: Metrics): RouteSpec[] {
  const review = (verdict: 'approve' | 'deny'): RouteSpec => ({
    method: 'POST',
    url: `/v1/requests/:id/${verdict}`,
    summary: verdict === 'approve' ? 'Approve a pending request' : 'Deny a pending request',
    tags: ['requests'],
    auth: true,
    params: IdParams,
    body: ReviewBody,
    headers: {
      'X-Countersign-Channel': 'Set to `cli` by the countersign CLI; otherwise the channel is `api`.',
    },
    responses: { 200: { description: 'The request after the review', schema: RequestView } },
    handler: async ({ req, principal }) => {
      const { id } = parseInput(IdParams, req.params, 'path');
      const body = parseInput(ReviewBody, req.body, 'body');
      const channel = channelOf(req.headers['x-countersign-channel']);
      const next = await gateway.review(principal, id, verdict, body.comment ?? null, channel);
      metrics.reviews.inc({ verdict });
      return toView(next);
    },
  });

  return [
    {
      method: 'POST',
      url: '/v1/actions',
      summary: 'Submit an action request',
      tags: ['requests'],
      auth: true,
      body: SubmitBody,
      headers: { 'Idempotency-Key': 'A retry with the same key (per caller) returns the same request.' },
      // The write checks the caller's key again (`liveKey`). A retry with an Idempotency-Key may be
      // answered from a read, with no write, so it has its key read afresh before anything else.
      keyCheckedAtWrite: (req) => req.headers['idempotency-key'] === undefined,
      responses: {
        201: { description: 'The new request, decided (approved, denied) or pending', schema: RequestView },
        200: {
          description: 'The request an earlier call with the same Idempotency-Key created',
          schema: RequestView,
        },
      },
      handler: async ({ req, reply, principal, apiKeyId }) => {
        const body = parseInput(SubmitBody, req.body, 'body');
        const key = req.headers['idempotency-key'];
        if (key !== undefined && (typeof key !== 'string' || !IDEMPOTENCY_KEY.test(key))) {
          throw new CountersignError(
            'INVALID_REQUEST',
            'Idempotency-Key must be 1-200 printable ASCII characters',
          );
        }
        const { request, created } = await gateway.submit(principal, body, key ?? null, apiKeyId);
        if (created) metrics.submissions.inc({ effect: request.policy.effect });
        void reply.code(created ? 201 : 200);
        return toView(request);
      },
    },
    {
      method: 'GET',
      url: '/v1/requests',
      summary: "The caller's inbox: what they may review, and what they asked for",
      tags: ['requests'],
      auth: true,
      query: ListQuery,
      responses: { 200: { description: 'Requests, newest first', schema: RequestList } },
      handler: async ({ req, principal }) => {
        const q = parseInput(ListQuery, req.query, 'query');
        const list = await gateway.inbox(principal, q.status, q.limit);
        return { requests: list.map(toView) };
      },
    },
    {
      method: 'GET',
      url: '/v1/requests/:id',
      summary: 'One request, masked for the caller',
      tags: ['requests'],
      auth: true,
      params: IdParams,
      responses: { 200: { description: 'The request', schema: RequestView } },
      handler: async ({ req, principal }) => {
        const { id } = parseInput(IdParams, req.params, 'path');
        return toView(await gateway.get(principal, id));
      },
    },
    {
      method: 'GET',
      url: '/v1/requests/:id/wait',
      summary: 'Long-poll until the request is settled or the timeout passes',
      tags: ['requests'],
      auth: true,
      params: IdParams,
      query: WaitQuery,
      responses: {
        200: { description: 'The request: terminal, or still pending at the timeout', schema: RequestView },
      },
      handler: async ({ req, principal }) => {
        const { id } = parseInput(IdParams, req.params, 'path');
        const { timeout } = parseInput(WaitQuery, req.query, 'query');
        // Stop waiting when the client goes away, so abandoned long-polls hold nothing.
        const abort = new AbortController();
        const onClose = () => abort.abort();
        req.raw.socket.once('close', onClose);
        try {
          return toView(await gateway.wait(principal, id, timeout * 1000, abort.signal));
        } finally {
          req.raw.socket.off('close', onClose);
        }
      },
    },
    review('approve'),
    review('deny'),
    {
      method: 'POST',
      url: '/v1/requests/:id/cancel',
      summary: 'Cancel a pending request (requester only)',
      tags: ['requests'],
      auth: true,
      params: IdParams,
      body: CancelBody,
      responses: { 200: { description: 'The cancelled request', schema: RequestView } },
      handler: async ({ req, principal }) => {
        const { id } = parseInput(IdParams, req.params, 'path');
        const body = parseInput(CancelBody, req.body, 'body');
        return toView(await gateway.cancel(principal, id, body.reason ?? body.comment ?? null));
      },
    },
  ];
}
