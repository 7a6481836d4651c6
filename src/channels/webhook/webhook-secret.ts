/** Standard Webhooks symmetric secrets: `whsec_` and the base64 of 24 to 64 random bytes. */
const PREFIX = 'whsec_';
const MIN_BYTES = 24;
const MAX_BYTES = 64;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * Checks a resolved signing secret and returns it in its `whsec_` form. The prefix is optional, as in the
 * reference libraries. Errors name `setting` and say what is wrong, never the value.
 */
export function checkWebhookSecret(secret: string, setting: string): string {
  const b64 = secret.startsWith(PREFIX) ? secret.slice(PREFIX.length) : secret;
  if (!BASE64.test(b64) || b64.length % 4 !== 0) {
    throw new Error(
      `${setting}: not a Standard Webhooks secret; expected whsec_ followed by base64 ` +
        `(make one with: echo "whsec_$(openssl rand -base64 32)")`,
    );
  }
  const bytes = Buffer.from(b64, 'base64').length;
  if (bytes < MIN_BYTES || bytes > MAX_BYTES) {
    throw new Error(
      `${setting}: the secret decodes to ${bytes} bytes; Standard Webhooks needs ${MIN_BYTES} to ${MAX_BYTES} random bytes`,
    );
  }
  return PREFIX + b64;
}
