import * as z from 'zod';
import { parseDuration } from '../core/duration.js';
import type { ApprovalSpec } from '../core/types.js';

/** The YAML policy file format (docs/policy.md). Strict objects: an unknown key is an error, so typos surface. */

const APPROVER = /^(group:[A-Za-z0-9._-]+|user:[^\s@]+@[^\s@]+)$/;

/** A field's message for a wrong value, and "is required" when it is missing. */
function expected(text: string) {
  return (issue: { input?: unknown }) => (issue.input === undefined ? 'is required' : text);
}

const duration = z
  .string({ error: expected('must be a duration such as 30m, 1h or 2d') })
  .transform((text, ctx) => {
    const ms = parseDuration(text);
    if (ms === null) {
      ctx.addIssue({
        code: 'custom',
        message: `"${text}" is not a duration; use e.g. 90s, 30m, 1h, 2d or 1h30m`,
      });
      return z.NEVER;
    }
    return ms;
  });

const positiveInt = z
  .number({ error: expected('must be a positive integer') })
  .int({ error: 'must be a positive integer' })
  .positive({ error: 'must be a positive integer' });

const effect = z.enum(['allow', 'deny', 'require_approval'], {
  error: expected('must be one of allow, deny, require_approval'),
});

const nonEmpty = z
  .string({ error: expected('must be a non-empty string') })
  .min(1, { error: 'must be a non-empty string' });

const approval = z
  .strictObject({
    approvers: z
      .array(
        z
          .string({ error: 'must be group:NAME or user:EMAIL' })
          .regex(APPROVER, { error: 'must be group:NAME or user:EMAIL' }),
        { error: expected('must be a list of group:NAME or user:EMAIL') },
      )
      .min(1, { error: 'must list at least one approver' }),
    quorum: positiveInt.default(1),
    require: z
      .array(z.strictObject({ group: nonEmpty, count: positiveInt }), {
        error: 'must be a list of {group, count}',
      })
      .default([]),
    timeout: duration.default(3_600_000), // 1h
    on_timeout: z.literal('deny', { error: 'must be deny (the only supported outcome)' }).default('deny'),
    grant: z.strictObject({ ttl: duration, uses: positiveInt }).optional(),
    step_up: z.boolean({ error: 'must be true or false' }).default(false),
  })
  .superRefine((a, ctx) => {
    const groups = new Set(a.approvers.filter((x) => x.startsWith('group:')).map((x) => x.slice(6)));
    a.require.forEach((r, i) => {
      if (!groups.has(r.group)) {
        ctx.addIssue({
          code: 'custom',
          path: ['require', i, 'group'],
          message: `group "${r.group}" is not among the approvers (add group:${r.group} to approvers)`,
        });
      }
    });
    const sum = a.require.reduce((n, r) => n + r.count, 0);
    if (sum > a.quorum) {
      ctx.addIssue({
        code: 'custom',
        path: ['require'],
        message: `per-group minimums add up to ${sum} people but quorum is ${a.quorum}; raise quorum to at least ${sum} or lower the counts`,
      });
    }
    // Only users can be counted ahead of time; a quorum larger than the named users plus any group is unreachable.
    const users = a.approvers.filter((x) => x.startsWith('user:')).length;
    if (groups.size === 0 && a.quorum > users) {
      ctx.addIssue({
        code: 'custom',
        path: ['quorum'],
        message: `quorum ${a.quorum} can never be met by the ${users} listed user(s)`,
      });
    }
  });

const rule = z.strictObject({
  name: nonEmpty,
  when: nonEmpty,
  effect,
  reason: z.string({ error: 'must be a string' }).optional(),
  approval: approval.optional(),
  mask: z.array(nonEmpty, { error: 'must be a list of field paths' }).default([]),
  notify: z.array(nonEmpty, { error: 'must be a list of channel targets' }).default([]),
});

export const policySchema = z
  .strictObject({
    version: z.literal(1, { error: expected('must be 1 (the only policy format version)') }),
    defaults: z.strictObject({ effect, approval: approval.optional() }),
    rules: z.array(rule, { error: 'must be a list of rules' }).default([]),
  })
  .superRefine((p, ctx) => {
    p.rules.forEach((r, i) => {
      if (r.effect !== 'require_approval' && r.approval !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['rules', i, 'approval'],
          message: `only applies to effect require_approval (this rule's effect is ${r.effect})`,
        });
      }
    });
    if (p.defaults.approval === undefined) {
      const needing = p.rules.filter((r) => r.effect === 'require_approval' && r.approval === undefined);
      const why =
        p.defaults.effect === 'require_approval'
          ? 'defaults.effect is require_approval'
          : needing.length > 0
            ? `rule "${needing[0]?.name}" requires approval and has no approval of its own`
            : null;
      if (why !== null) {
        ctx.addIssue({
          code: 'custom',
          path: ['defaults', 'approval'],
          message: `is required because ${why}`,
        });
      }
    }
  });

export type PolicyFile = z.output<typeof policySchema>;
export type ApprovalFile = z.output<typeof approval>;

export function toApprovalSpec(a: ApprovalFile): ApprovalSpec {
  return {
    approvers: a.approvers,
    quorum: a.quorum,
    require: a.require.map((r) => ({ group: r.group, count: r.count })),
    timeoutMs: a.timeout,
    onTimeout: a.on_timeout,
    grant: a.grant === undefined ? null : { ttlMs: a.grant.ttl, uses: a.grant.uses },
    stepUp: a.step_up,
  };
}
