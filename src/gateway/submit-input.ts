/** What a caller submits (already validated at the edge by the server's schema). */
export interface SubmitInput {
  action: string;
  resource: string;
  environment: string;
  parameters: unknown;
  reason: string | null;
  context: Record<string, unknown>;
  /** An email (unverified claim) or the person's own OIDC token (verified once OIDC is configured). */
  onBehalfOf: string | { token: string } | null;
}
