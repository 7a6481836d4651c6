import type { ActionFields, DlpFinding, PolicyDecision, PrincipalKind } from '../core/types.js';

/** Everything a rule's CEL condition can see (DESIGN.md "CEL variables"). */
export interface PolicyInput extends ActionFields {
  requester: {
    id: string;
    kind: PrincipalKind;
    name: string;
    email: string | null;
    groups: string[];
    attributes: Record<string, unknown>;
  };
  /** Only a verified claim is visible to conditions (invariant 10); an unverified one shows as unverified with no email. */
  onBehalfOf: { email: string | null; verified: boolean } | null;
  dlp: { findings: DlpFinding[]; classes: string[]; external_destination: boolean };
  now: Date;
}

/** One problem found while loading a policy file. */
export interface PolicyProblem {
  /** Rule name, or null for file-level problems (e.g. `defaults`). */
  rule: string | null;
  /** 1-based line in the YAML source, when known. */
  line: number | null;
  /** Dotted path of the offending field, e.g. `rules[2].approval.quorum`. */
  path: string;
  message: string;
}

/** A rule's verdict on one input, for `policy explain`. */
export interface RuleTrace {
  rule: string;
  effect: PolicyDecision['effect'];
  outcome: 'matched' | 'not_matched' | 'error' | 'skipped';
  error?: string;
}

export interface Evaluation {
  decision: PolicyDecision;
  trace: RuleTrace[];
}

export interface CompiledPolicy {
  /** `sha256:` + hex of the file's bytes: recorded on every decision. */
  readonly version: string;
  readonly ruleNames: readonly string[];
  /** Every rule's `notify:` targets, as written (`slack:#ops`), for start-up checks against the channels. */
  readonly notifyTargets: readonly { rule: string; target: string }[];
  /** Never throws: evaluation errors fail closed into a deny with an explanation that says why. */
  evaluate(input: PolicyInput): Evaluation;
}
