/** Domain types shared by every part. Pure data: no I/O, no classes. */

export type PrincipalKind = 'human' | 'agent' | 'service';
export type Role = 'admin' | 'auditor';
export type Effect = 'allow' | 'deny' | 'require_approval';
export type RequestStatus = 'pending' | 'approved' | 'denied' | 'expired' | 'cancelled';
export type Verdict = 'approve' | 'deny';
export type Channel = 'api' | 'cli' | 'web' | 'slack' | 'teams';
export type Assurance = 'chat' | 'session';

export const TERMINAL_STATUSES: readonly RequestStatus[] = ['approved', 'denied', 'expired', 'cancelled'];

/** Who calls. Built by identity from an API key (or, later, an OIDC token). */
export interface Principal {
  id: string;
  kind: PrincipalKind;
  name: string;
  email: string | null;
  groups: string[];
  roles: Role[];
  /** For agents: the email of the person who owns the credential. */
  owner: string | null;
  attributes: Record<string, unknown>;
  /** Canonical person id for humans (verified email, lower-cased), else null. */
  personId: string | null;
}

export interface RequesterView {
  id: string;
  kind: PrincipalKind;
  name: string;
  email: string | null;
  owner: string | null;
  groups: string[];
  personId: string | null;
}

export interface OnBehalfOf {
  email: string;
  verified: boolean;
}

export interface RequireMinimum {
  group: string;
  count: number;
}

export interface GrantSpec {
  ttlMs: number;
  uses: number;
}

/** The approval settings a rule (or the defaults) asks for. */
export interface ApprovalSpec {
  /** `group:NAME` or `user:EMAIL`. */
  approvers: string[];
  quorum: number;
  require: RequireMinimum[];
  timeoutMs: number;
  onTimeout: 'deny';
  grant: GrantSpec | null;
  stepUp: boolean;
}

export interface PolicyDecision {
  effect: Effect;
  /** Rule that decided, or null when the defaults did. */
  rule: string | null;
  explanation: string;
  /** Set when effect is require_approval. */
  approval: ApprovalSpec | null;
  mask: string[];
  notify: string[];
}

export interface Review {
  reviewer: { id: string; name: string; email: string | null; personId: string; groups: string[] };
  verdict: Verdict;
  comment: string | null;
  channel: Channel;
  assurance: Assurance;
  at: string;
}

/** One DLP finding: where (JSONPath into the submission, UTF-16 offsets into that string) and what — never the value. */
export interface DlpFinding {
  type: string;
  severity: 'low' | 'medium' | 'high';
  class: 'secret' | 'personal' | 'financial' | 'network';
  path: string;
  start: number;
  end: number;
}

/** What DLP found in a submission, and where its declared data flow goes. */
export interface DataInspection {
  findings: DlpFinding[];
  /** Sorted unique classes of the findings and of the declared flow (`context.data.classes`). */
  classes: string[];
  /** The declared destination (`context.data.destination`) is not among the trusted destinations. */
  externalDestination: boolean;
}

/** What an action request asks for: the four fields the digest binds, plus why and in what context. */
export interface ActionFields {
  action: string;
  resource: string;
  environment: string;
  parameters: unknown;
  reason: string | null;
  context: Record<string, unknown>;
}

/** An action request as stored. Views for callers are derived from it (and masked). */
export interface ActionRequest extends ActionFields {
  id: string;
  status: RequestStatus;
  requester: RequesterView;
  onBehalfOf: OnBehalfOf | null;
  digest: string;
  policy: { version: string; rule: string | null; effect: Effect; explanation: string };
  approval: (ApprovalSpec & { expiresAt: string; reviews: Review[] }) | null;
  mask: string[];
  notify: string[];
  dlp: DataInspection;
  createdAt: string;
  decidedAt: string | null;
  /** `policy`, a grant id, `timeout`, or the person id whose review settled it. */
  decidedBy: string | null;
  idempotencyKey: string | null;
  /** Optimistic-concurrency version: every stored change increments it. */
  version: number;
}

export interface Grant {
  id: string;
  requestId: string;
  requesterId: string;
  action: string;
  resource: string;
  environment: string;
  uses: number;
  used: number;
  expiresAt: string;
  createdAt: string;
}

/** What the store appends to `audit_events` in the same transaction as a state change. */
export interface AuditEventInput {
  type: string;
  at: string;
  requestId: string | null;
  actor: { id: string; kind: PrincipalKind | 'system'; personId: string | null; channel: Channel | 'system' };
  data: Record<string, unknown>;
}

export interface AuditEvent extends AuditEventInput {
  seq: number;
}
