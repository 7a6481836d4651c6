import { createHash } from 'node:crypto';
import canonicalizeModule from 'canonicalize';

// canonicalize returns undefined for values JSON cannot represent; we turn that into an error.
const canonicalize: (input: unknown) => string | undefined = canonicalizeModule;

/** RFC 8785 (JCS) canonical JSON text of a JSON value. */
export function canonicalJson(value: unknown): string {
  const text = canonicalize(value);
  if (text === undefined) throw new TypeError('value cannot be represented as JSON');
  return text;
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export interface DigestInput {
  action: string;
  resource: string;
  environment: string;
  parameters: unknown;
}

/** `sha256:` + hex SHA-256 of the JCS form of exactly {action, resource, environment, parameters}. */
export function actionDigest(input: DigestInput): string {
  const bound = {
    action: input.action,
    resource: input.resource,
    environment: input.environment,
    parameters: input.parameters,
  };
  return `sha256:${sha256Hex(canonicalJson(bound))}`;
}
