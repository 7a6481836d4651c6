import type { ActionFields } from '../core/types.js';

/** What a caller submits (already validated at the edge by the server's schema). */
export interface SubmitInput extends ActionFields {
  /** An email (unverified claim) or the person's own OIDC token (verified once OIDC is configured). */
  onBehalfOf: string | { token: string } | null;
}
