import type { PolicyInput } from './types.js';

/** A typical request, overridable per test. */
export function input(overrides: Partial<PolicyInput> = {}): PolicyInput {
  return {
    action: 'service.restart',
    resource: 'k8s://prod/deploy/api',
    environment: 'production',
    parameters: { replicas: 3 },
    reason: null,
    context: {},
    requester: {
      id: 'key_1',
      kind: 'agent',
      name: 'deploy-bot',
      email: null,
      groups: ['bots'],
      attributes: {},
    },
    onBehalfOf: null,
    dlp: { findings: [], classes: [], external_destination: false },
    now: new Date('2026-01-05T10:00:00Z'),
    ...overrides,
  };
}

/** A policy document from rule snippets, with defaults that need approval from group:platform. */
export function policyYaml(rules: string, defaults = 'require_approval'): string {
  return `version: 1
defaults:
  effect: ${defaults}
  approval: { approvers: [group:platform], quorum: 1, timeout: 1h }
rules:
${rules}`;
}
