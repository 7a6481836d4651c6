import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.js';
import { actionDigest } from '../core/digest.js';
import { CountersignError } from '../core/errors.js';
import { initialStatus, isTerminal } from '../core/lifecycle.js';
import {
  applyCancel,
  applyExpiry,
  applyReview,
  AUDITED_REFUSALS,
  refusedReviewEvent,
  type Transition,
} from '../core/transitions.js';
import type {
  ActionRequest,
  AuditEventInput,
  DataInspection,
  PolicyDecision,
  Channel,
  Grant,
  Principal,
  RequestStatus,
  Verdict,
} from '../core/types.js';
import type { CompiledPolicy } from '../policy/types.js';
import type { RequestPayload } from '../audit/payload-crypto.js';
import {
  GrantUnavailable,
  VersionConflict,
  type DeliveryKind,
  type EncryptedPayload,
  type InsertRequestOptions,
  type NewDelivery,
  type PayloadToSeal,
  type Store,
} from '../store/store.js';
import { canReviewNow, canView } from './access.js';
import type { GatewayHooks } from './hooks.js';
import type { SubmitInput } from './submit-input.js';
import { maskSubmission, NO_FINDINGS, type Submitted } from './inspect.js';
import { Waiters } from './waiters.js';
import { timeOrderedId } from './ids.js';

export interface GatewayDeps {
  store: Store;
  /** A getter, so that a reloaded policy takes effect for the next submission. */
  policy: () => CompiledPolicy;
  clock: Clock;
  logger: Logger;
  hooks?: GatewayHooks;
  /** Called with each new deadline so the expiry sweeper can re-arm its timer. */
  onDeadline?: (at: string) => void;
  /**
   * DLP: scans a submission and reads its declared data flow. Absent: no findings. If it throws, the
   * request is denied (fail closed).
   */
  inspect?: (s: Submitted) => DataInspection;
  /**
   * Encrypts a request's full payload for the store (audit), or prepares it for a store that seals it
   * itself (`Store.sealsPayloads`); the event then carries only its SHA-256.
   */
  sealPayload?: (requestId: string, payload: RequestPayload) => EncryptedPayload | PayloadToSeal;
  /** Channel deliveries (the outbox) a state change asks for; written in the change's own transaction. */
  deliveries?: (req: ActionRequest, kind: DeliveryKind) => NewDelivery[];
  /** Called after a commit that wrote deliveries, so the outbox worker sends them without waiting. */
  onDeliveries?: () => void;
}

// Compare-and-set retries: each retry re-reads the row, so a loser sees the winner's state.
const MAX_CAS_ATTEMPTS = 100;

/** The service layer: every use case of the gateway, independent of HTTP. */
export class Gateway {
  readonly waiters = new Waiters();
  readonly #d: GatewayDeps;

  constructor(deps: GatewayDeps) {
    this.#d = deps;
  }

  /**
   * `liveKeyId`: the API key the caller authenticated with; the request is written only if that key is
   * still live in the write's own transaction (a revocation that commits first always wins).
   */
  async submit(
    principal: Principal,
    input: SubmitInput,
    idempotencyKey: string | null,
    liveKeyId: string | null = null,
  ): Promise<{ request: ActionRequest; created: boolean }> {
    const { store, clock } = this.#d;
    if (idempotencyKey !== null) {
      const existing = await store.findByIdempotencyKey(principal.id, idempotencyKey);
      if (existing) return { request: existing, created: false };
    }
    const onBehalfOf = parseOnBehalfOf(input.onBehalfOf);
    const policy = this.#d.policy();
    const now = clock.now();
    const digest = actionDigest(input);
    // The fields the digest binds, plus reason and context: seen by the policy and stored as submitted.
    const fields = {
      action: input.action,
      resource: input.resource,
      environment: input.environment,
      parameters: input.parameters,
      reason: input.reason,
      context: input.context,
    };
    const requester: ActionRequest['requester'] = {
      id: principal.id,
      kind: principal.kind,
      name: principal.name,
      email: principal.email,
      owner: principal.owner,
      groups: principal.groups,
      personId: principal.personId,
    };
    let inspection: DataInspection = NO_FINDINGS;
    let dlpFailure: string | null = null;
    try {
      inspection = this.#d.inspect?.(fields) ?? NO_FINDINGS;
    } catch (err) {
      dlpFailure = err instanceof Error ? err.message : String(err);
      this.#d.logger.error({ err }, 'DLP inspection failed; denying the request (fail closed)');
    }
    const decision: PolicyDecision =
      dlpFailure !== null
        ? {
            effect: 'deny',
            rule: null,
            explanation: `the data-loss-prevention scan failed (${dlpFailure}), so the request is denied (fail closed)`,
            approval: null,
            mask: [],
            notify: [],
          }
        : policy.evaluate({
            // The spreads come last: on Node 20, a property written after a spread in an object literal
            // takes V8's slow path (~1 µs each, measured), and this runs on every submission.
            requester: { attributes: principal.attributes, ...requester },
            // Invariant 10: an unverified claim never satisfies a condition.
            onBehalfOf:
              onBehalfOf === null
                ? null
                : onBehalfOf.verified
                  ? onBehalfOf
                  : { email: null, verified: false },
            dlp: {
              findings: inspection.findings,
              classes: inspection.classes,
              external_destination: inspection.externalDestination,
            },
            now,
            ...fields,
          }).decision;
    const at = now.toISOString();
    const base: ActionRequest = {
      id: timeOrderedId('req', now.getTime()),
      status: initialStatus(decision.effect),
      ...fields,
      // Invariant 8: what is stored and shown is masked; the full payload exists only encrypted (below).
      ...maskSubmission(fields, inspection.findings, decision.mask),
      requester,
      onBehalfOf,
      digest,
      policy: {
        version: policy.version,
        rule: decision.rule,
        effect: decision.effect,
        explanation: decision.explanation,
      },
      approval:
        decision.approval === null
          ? null
          : {
              ...decision.approval,
              expiresAt: new Date(now.getTime() + decision.approval.timeoutMs).toISOString(),
              reviews: [],
            },
      mask: decision.mask,
      notify: decision.notify,
      dlp: inspection,
      createdAt: at,
      decidedAt: decision.effect === 'require_approval' ? null : at,
      decidedBy: decision.effect === 'require_approval' ? null : 'policy',
      idempotencyKey,
      version: 1,
    };
    const actor = actorOf(principal);
    // Audit: the full payload is stored encrypted with the request; the event names only its hash.
    const payload = this.#d.sealPayload?.(base.id, {
      parameters: fields.parameters,
      reason: fields.reason,
      context: fields.context,
    });
    // What every write of this submission carries, whichever path writes it. (Assigned, not spread: see
    // the policy input above.)
    const carried: InsertRequestOptions = {};
    if (payload !== undefined) carried.payload = payload;
    if (liveKeyId !== null) carried.liveKey = { id: liveKeyId, at };
    // One event records the submission and, for a request decided on the spot (by policy or by a grant),
    // its outcome too (`status`, `decidedBy`): it is one state change, so one event.
    const submitted = (req: ActionRequest): AuditEventInput => ({
      type: 'request.submitted',
      at,
      requestId: req.id,
      actor,
      data: {
        action: req.action,
        resource: req.resource,
        environment: req.environment,
        digest,
        onBehalfOf,
        policyVersion: policy.version,
        rule: decision.rule,
        effect: decision.effect,
        explanation: req.policy.explanation,
        status: req.status,
        decidedBy: req.decidedBy,
        dlp: {
          types: [...new Set(inspection.findings.map((f) => f.type))].sort(),
          classes: inspection.classes,
        },
        ...(payload === undefined ? {} : { payloadSha256: payload.sha256 }),
      },
    });

    let result: { request: ActionRequest; created: boolean } | null = null;
    if (base.status === 'pending') result = await this.#tryGrants(base, submitted, carried);
    if (result === null) {
      const events = [submitted(base)];
      const deliveries = base.status === 'pending' ? this.#deliveries(base, 'request.created') : [];
      const options = { ...carried };
      if (deliveries.length > 0) options.deliveries = deliveries;
      result = await store.insertRequest(base, events, options);
      if (result.created && deliveries.length > 0) this.#d.onDeliveries?.();
    }
    const req = result.request;
    if (result.created) {
      this.#d.logger.info(
        { requestId: req.id, action: req.action, status: req.status, rule: req.policy.rule },
        'request submitted',
      );
      if (req.status === 'pending' && req.approval) {
        this.#d.onDeadline?.(req.approval.expiresAt);
        this.#hook('requestCreated', () => this.#d.hooks?.requestCreated?.(req));
      }
    }
    return result;
  }

  /** A pending request covered by a live grant is approved by it, consuming one use atomically. */
  async #tryGrants(
    base: ActionRequest,
    submitted: (req: ActionRequest) => AuditEventInput,
    carried: InsertRequestOptions,
  ): Promise<{ request: ActionRequest; created: boolean } | null> {
    const grants = await this.#d.store.findGrants({
      requesterId: base.requester.id,
      action: base.action,
      resource: base.resource,
      environment: base.environment,
      now: base.createdAt,
    });
    for (const grant of grants) {
      const req: ActionRequest = {
        ...base,
        status: 'approved',
        decidedAt: base.createdAt,
        decidedBy: grant.id,
        policy: {
          ...base.policy,
          explanation: `${base.policy.explanation}; approved by grant ${grant.id} from request ${grant.requestId}`,
        },
      };
      try {
        const options = { ...carried };
        options.consumeGrantId = grant.id;
        return await this.#d.store.insertRequest(req, [submitted(req)], options);
      } catch (err) {
        if (!(err instanceof GrantUnavailable)) throw err;
      }
    }
    return null;
  }

  async get(principal: Principal, id: string): Promise<ActionRequest> {
    const req = await this.#d.store.getRequest(id);
    if (!req || !canView(req, principal)) throw notFound(id);
    return req;
  }

  /** The caller's inbox: what they may review now, and what they asked for. */
  async inbox(
    principal: Principal,
    status: RequestStatus | undefined,
    limit: number,
  ): Promise<ActionRequest[]> {
    const { store } = this.#d;
    const mine = await store.listRequests({ requesterId: principal.id, status, limit });
    const reviewable =
      principal.kind === 'human' && (status === undefined || status === 'pending')
        ? (await store.listRequests({ status: 'pending', limit: 1000 })).filter((r) =>
            canReviewNow(r, principal),
          )
        : [];
    const byId = new Map<string, ActionRequest>();
    for (const r of [...reviewable, ...mine]) byId.set(r.id, r);
    return [...byId.values()].sort((a, b) => b.createdAt.localeCompare(a.createdAt)).slice(0, limit);
  }

  async review(
    principal: Principal,
    id: string,
    verdict: Verdict,
    comment: string | null,
    channel: Channel,
  ): Promise<ActionRequest> {
    let next: ActionRequest;
    try {
      next = await this.#transition(id, (req) =>
        applyReview(req, principal, verdict, comment, channel, this.#d.clock.now()),
      );
    } catch (err) {
      if (err instanceof CountersignError && AUDITED_REFUSALS.has(err.code)) {
        await this.#auditRefusal(id, principal, verdict, channel, err.code);
      }
      throw err;
    }
    const review = next.approval?.reviews.at(-1);
    if (review) this.#hook('requestReviewed', () => this.#d.hooks?.requestReviewed?.(next, review));
    return next;
  }

  async cancel(principal: Principal, id: string, reason: string | null): Promise<ActionRequest> {
    return this.#transition(id, (req) => {
      if (!canView(req, principal)) throw notFound(id);
      return applyCancel(req, principal, reason, this.#d.clock.now());
    });
  }

  /** Long-poll: resolves with the request once terminal, or as it is when `timeoutMs` passes. */
  async wait(
    principal: Principal,
    id: string,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<ActionRequest> {
    // Subscribe before reading, so a decision landing between the read and the park still wakes us.
    const parked = this.waiters.wait(id, timeoutMs, signal);
    try {
      const req = await this.get(principal, id);
      if (isTerminal(req.status) || timeoutMs <= 0) return req;
      await parked.promise;
      return await this.get(principal, id);
    } finally {
      parked.cancel();
    }
  }

  /** Settles every pending request whose deadline has passed. Returns how many it expired. */
  async expireDue(): Promise<number> {
    const now = this.#d.clock.now();
    let expired = 0;
    for (;;) {
      const due = await this.#d.store.listDue(now.toISOString(), 100);
      if (due.length === 0) return expired;
      for (const req of due) {
        try {
          await this.#transition(req.id, (current) => applyExpiry(current, now));
          expired++;
        } catch (err) {
          // Someone settled it first (a review or another sweeper): nothing to do.
          if (!(err instanceof CountersignError && err.code === 'ALREADY_DECIDED')) throw err;
        }
      }
      if (due.length < 100) return expired;
    }
  }

  /** Reads, applies a pure transition and writes it back with compare-and-set, retrying on conflict. */
  async #transition(id: string, apply: (req: ActionRequest) => Transition): Promise<ActionRequest> {
    const { store } = this.#d;
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const current = await store.getRequest(id);
      if (!current) throw notFound(id);
      const { next, events } = apply(current);
      const grant = next.status === 'approved' ? grantFor(next, this.#d.clock.now()) : undefined;
      if (grant) {
        const actor = events[0]?.actor ?? { id: 'system', kind: 'system', personId: null, channel: 'system' };
        events.push({
          type: 'grant.created',
          at: grant.createdAt,
          requestId: next.id,
          actor,
          data: { ...grant },
        });
      }
      const deliveries = this.#deliveries(next, deliveryKindOf(next));
      try {
        if (deliveries.length === 0) await store.updateRequest(next, events, grant);
        else await store.updateRequest(next, events, grant, deliveries);
      } catch (err) {
        if (err instanceof VersionConflict) continue;
        throw err;
      }
      if (deliveries.length > 0) this.#d.onDeliveries?.();
      if (isTerminal(next.status)) {
        this.#d.logger.info(
          { requestId: id, status: next.status, decidedBy: next.decidedBy },
          'request settled',
        );
        this.waiters.notify(id);
        this.#hook('requestDecided', () => this.#d.hooks?.requestDecided?.(next));
      }
      return next;
    }
    throw new CountersignError('UNAVAILABLE', `request ${id} is too contended right now; retry`);
  }

  /** Records a refused review; a failure to record it is logged, and the caller still gets the refusal. */
  async #auditRefusal(id: string, p: Principal, verdict: Verdict, channel: Channel, code: string) {
    try {
      await this.#d.store.appendAuditEvents([
        refusedReviewEvent(id, p, verdict, channel, code, this.#d.clock.now()),
      ]);
    } catch (err) {
      this.#d.logger.error({ err, requestId: id, code }, 'could not audit a refused review');
    }
  }

  #deliveries(req: ActionRequest, kind: DeliveryKind): NewDelivery[] {
    return this.#d.deliveries?.(req, kind) ?? [];
  }

  #hook(name: string, run: () => void | Promise<void> | undefined): void {
    // A channel failure never changes or blocks a request: log it and move on.
    Promise.resolve()
      .then(run)
      .catch((err: unknown) => this.#d.logger.error({ err, hook: name }, 'notification hook failed'));
  }
}

function notFound(id: string): CountersignError {
  return new CountersignError('NOT_FOUND', `no request ${JSON.stringify(id)}`);
}

function actorOf(p: Principal): AuditEventInput['actor'] {
  return { id: p.id, kind: p.kind, personId: p.personId, channel: 'api' };
}

function grantFor(req: ActionRequest, now: Date): Grant | undefined {
  const spec = req.approval?.grant;
  if (!spec) return undefined;
  return {
    id: `grant_${randomBytes(12).toString('hex')}`,
    requestId: req.id,
    requesterId: req.requester.id,
    action: req.action,
    resource: req.resource,
    environment: req.environment,
    uses: spec.uses,
    used: 0,
    expiresAt: new Date(now.getTime() + spec.ttlMs).toISOString(),
    createdAt: now.toISOString(),
  };
}

function parseOnBehalfOf(v: SubmitInput['onBehalfOf']): ActionRequest['onBehalfOf'] {
  if (v === null) return null;
  if (typeof v === 'string') return { email: v.trim().toLowerCase(), verified: false };
  throw new CountersignError(
    'INVALID_REQUEST',
    "onBehalfOf.token needs OIDC verification, which is not configured on this gateway; pass the person's email as a string instead",
  );
}

/** Which delivery a transition to `next` announces. */
function deliveryKindOf(next: ActionRequest): DeliveryKind {
  if (next.status === 'pending') return 'request.reviewed';
  return next.status === 'expired' ? 'request.expired' : 'request.decided';
}
