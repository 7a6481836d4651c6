import type { ActionRequest, AuditEventInput } from '../../src/core/types.js';
import type { NewDelivery } from '../../src/store/store.js';

export const T0 = '2026-01-01T00:00:00.000Z';
export const at = (ms: number): string => new Date(Date.parse(T0) + ms).toISOString();

let counter = 0;
export const nextId = (prefix: string): string => `${prefix}_${++counter}_${process.pid}`;

/** A pending request as the gateway stores it (already masked). */
export function makeRequest(overrides: Partial<ActionRequest> = {}): ActionRequest {
  return {
    id: nextId('req'),
    status: 'pending',
    action: 'service.restart',
    resource: 'k8s://prod/deploy/api',
    environment: 'production',
    parameters: { replicas: 3, token: '[MASKED:github_token]' },
    reason: 'rollout stuck',
    context: { pipeline: 'deploy#42' },
    requester: {
      id: 'agent:deploy-bot',
      kind: 'agent',
      name: 'deploy-bot',
      email: null,
      owner: 'alice@example.com',
      groups: [],
      personId: null,
    },
    onBehalfOf: { email: 'frank@example.com', verified: false },
    digest: 'sha256:00',
    policy: {
      version: 'sha256:11',
      rule: 'prod-restarts',
      effect: 'require_approval',
      explanation: 'production restarts need two SREs',
    },
    approval: {
      approvers: ['group:sre'],
      quorum: 2,
      require: [],
      timeoutMs: 30 * 60_000,
      onTimeout: 'deny',
      grant: null,
      stepUp: false,
      expiresAt: at(30 * 60_000),
      reviews: [],
    },
    mask: [],
    notify: ['slack:#prod-approvals'],
    dlp: {
      findings: [
        {
          type: 'github_token',
          severity: 'high',
          class: 'secret',
          path: 'parameters.token',
          start: 0,
          end: 40,
        },
      ],
      classes: ['secret'],
      externalDestination: false,
    },
    createdAt: T0,
    decidedAt: null,
    decidedBy: null,
    idempotencyKey: null,
    version: 1,
    ...overrides,
  };
}

export function event(type: string, requestId: string): AuditEventInput {
  return {
    type,
    at: T0,
    requestId,
    actor: { id: 'system', kind: 'system', personId: null, channel: 'system' },
    data: {},
  };
}

export function delivery(requestId: string, overrides: Partial<NewDelivery> = {}): NewDelivery {
  const id = nextId('dlv');
  return {
    id,
    channel: 'slack',
    kind: 'request.created',
    requestId,
    idempotencyKey: `key-${id}`,
    payload: { target: '#prod-approvals' },
    createdAt: T0,
    ...overrides,
  };
}
