import type { ActionRequest } from '../core/types.js';
import { maskPaths } from './mask.js';

/** The public shape of a request (DESIGN.md "A request, as every route returns it"), masked for callers. */
export interface RequestView {
  id: string;
  status: ActionRequest['status'];
  action: string;
  resource: string;
  environment: string;
  parameters: unknown;
  reason: string | null;
  context: Record<string, unknown>;
  requester: {
    id: string;
    kind: ActionRequest['requester']['kind'];
    name: string;
    email: string | null;
    owner: string | null;
  };
  onBehalfOf: { email: string; verified: boolean } | null;
  digest: string;
  policy: ActionRequest['policy'];
  approval: {
    approvers: string[];
    quorum: number;
    require: { group: string; count: number }[];
    expiresAt: string;
    stepUp: boolean;
    reviews: {
      reviewer: { id: string; name: string; email: string | null };
      verdict: 'approve' | 'deny';
      comment: string | null;
      channel: string;
      assurance: 'chat' | 'session';
      at: string;
    }[];
  } | null;
  dlp: ActionRequest['dlp'];
  createdAt: string;
  decidedAt: string | null;
  decidedBy: string | null;
  execution: null;
}

export function toView(req: ActionRequest): RequestView {
  // Stored requests are already masked (DLP findings and `mask` paths); re-applying the paths is idempotent
  // and guards against anything stored before masking existed.
  const masked = maskPaths({ parameters: req.parameters, context: req.context }, req.mask);
  const a = req.approval;
  return {
    id: req.id,
    status: req.status,
    action: req.action,
    resource: req.resource,
    environment: req.environment,
    parameters: masked.parameters,
    reason: req.reason,
    context: masked.context,
    requester: {
      id: req.requester.id,
      kind: req.requester.kind,
      name: req.requester.name,
      email: req.requester.email,
      owner: req.requester.owner,
    },
    onBehalfOf: req.onBehalfOf,
    digest: req.digest,
    policy: req.policy,
    approval:
      a === null
        ? null
        : {
            approvers: a.approvers,
            quorum: a.quorum,
            require: a.require,
            expiresAt: a.expiresAt,
            stepUp: a.stepUp,
            reviews: a.reviews.map((r) => ({
              reviewer: { id: r.reviewer.id, name: r.reviewer.name, email: r.reviewer.email },
              verdict: r.verdict,
              comment: r.comment,
              channel: r.channel,
              assurance: r.assurance,
              at: r.at,
            })),
          },
    dlp: req.dlp,
    createdAt: req.createdAt,
    decidedAt: req.decidedAt,
    decidedBy: req.decidedBy,
    execution: null,
  };
}
