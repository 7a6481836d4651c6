import { z } from 'zod';

// One schema per endpoint: the handler's validation, its TypeScript type and the OpenAPI document all
// come from these declarations.

const MAX_DEPTH = 32;

/** Rejects JSON nested deeper than MAX_DEPTH: canonicalisation and CEL recurse, so depth is bounded at the edge. */
function shallowEnough(value: unknown, depth = 0): boolean {
  if (depth > MAX_DEPTH) return false;
  if (value === null || typeof value !== 'object') return true;
  for (const v of Object.values(value)) if (!shallowEnough(v, depth + 1)) return false;
  return true;
}

const jsonObject = z
  .record(z.string(), z.unknown())
  .refine((v) => shallowEnough(v), { message: `must not be nested deeper than ${MAX_DEPTH} levels` });

export const SubmitBody = z
  .object({
    action: z
      .string()
      .min(1)
      .max(200)
      .regex(
        /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/,
        'must be a dotted name such as data.export or service.restart',
      )
      .describe('Dotted action name, e.g. `service.restart`.'),
    resource: z.string().max(2048).default('').describe('URI-like resource, e.g. `k8s://prod/deploy/api`.'),
    environment: z.string().max(128).default('').describe('Environment, e.g. `production`.'),
    parameters: jsonObject.default({}).describe('Action parameters (JSON object), bound by the digest.'),
    reason: z.string().max(4000).nullable().default(null).describe('Why the action is needed.'),
    context: jsonObject
      .default({})
      .describe('Pipeline run, repo, commit, model, tool-call id, declared data flow.'),
    onBehalfOf: z
      .union([z.email().max(320), z.object({ token: z.string().min(1).max(16_384) }).strict()])
      .nullable()
      .default(null)
      .describe(
        "The person behind the agent: their email (unverified), or `{token}` with the person's OIDC token.",
      ),
  })
  .strict();
export type SubmitBody = z.infer<typeof SubmitBody>;

export const ReviewBody = z.object({ comment: z.string().max(4000).nullable().optional() }).strict();
// `reason` or, as for a review, `comment`: the same note on the cancel either way.
export const CancelBody = z
  .object({
    reason: z.string().max(4000).nullable().optional(),
    comment: z.string().max(4000).nullable().optional(),
  })
  .strict();

export const IdParams = z.object({ id: z.string().min(1).max(200) });

export const WaitQuery = z
  .object({
    timeout: z.coerce
      .number()
      .min(0)
      .max(600)
      .default(30)
      .describe('Seconds to wait for a terminal state (0-600, default 30).'),
  })
  .strict();

export const ListQuery = z
  .object({
    status: z.enum(['pending', 'approved', 'denied', 'expired', 'cancelled']).optional(),
    limit: z.coerce.number().int().min(1).max(500).default(100),
  })
  .strict();

const Review = z.object({
  reviewer: z.object({ id: z.string(), name: z.string(), email: z.string().nullable() }),
  verdict: z.enum(['approve', 'deny']),
  comment: z.string().nullable(),
  channel: z.enum(['api', 'cli', 'web', 'slack', 'teams']),
  assurance: z.enum(['chat', 'session']),
  at: z.string(),
});

export const RequestView = z.object({
  id: z.string(),
  status: z.enum(['pending', 'approved', 'denied', 'expired', 'cancelled']),
  action: z.string(),
  resource: z.string(),
  environment: z.string(),
  parameters: z.unknown(),
  reason: z.string().nullable(),
  context: z.record(z.string(), z.unknown()),
  requester: z.object({
    id: z.string(),
    kind: z.enum(['human', 'agent', 'service']),
    name: z.string(),
    email: z.string().nullable(),
    owner: z.string().nullable(),
  }),
  onBehalfOf: z.object({ email: z.string(), verified: z.boolean() }).nullable(),
  digest: z.string(),
  policy: z.object({
    version: z.string(),
    rule: z.string().nullable(),
    effect: z.enum(['allow', 'deny', 'require_approval']),
    explanation: z.string(),
  }),
  approval: z
    .object({
      approvers: z.array(z.string()),
      quorum: z.number().int(),
      require: z.array(z.object({ group: z.string(), count: z.number().int() })),
      expiresAt: z.string(),
      stepUp: z.boolean(),
      reviews: z.array(Review),
    })
    .nullable(),
  dlp: z.object({
    findings: z.array(
      z.object({ type: z.string(), severity: z.string(), class: z.string(), path: z.string() }),
    ),
    classes: z.array(z.string()),
  }),
  createdAt: z.string(),
  decidedAt: z.string().nullable(),
  decidedBy: z.string().nullable(),
  execution: z.null(),
});

export const RequestList = z.object({ requests: z.array(RequestView) });

export const ErrorBody = z.object({
  error: z.object({
    code: z.enum([
      'INVALID_REQUEST',
      'UNAUTHENTICATED',
      'FORBIDDEN',
      'NOT_AN_APPROVER',
      'SELF_APPROVAL_FORBIDDEN',
      'NOT_FOUND',
      'ALREADY_DECIDED',
      'ALREADY_REVIEWED',
      'PAYLOAD_TOO_LARGE',
      'RATE_LIMITED',
      'INTERNAL',
      'UNAVAILABLE',
    ]),
    message: z.string(),
    requestId: z.string().optional(),
  }),
});
