const STD_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Decodes standard, padded base64, accepting only the canonical encoding (C2SP strictness).
 * Node's decoder skips invalid characters and ignores non-zero padding bits, so a changed last
 * character of a signature could still decode to the same bytes; we re-encode and compare.
 */
export function decodeBase64Strict(text: string): Buffer | null {
  if (!STD_BASE64.test(text)) return null;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : null;
}
