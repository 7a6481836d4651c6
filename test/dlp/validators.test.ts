import { describe, expect, it } from 'vitest';
import {
  ibanValid,
  isPlaceholder,
  isTemplatePlaceholder,
  jwtHeaderValid,
  luhnValid,
  shannonEntropy,
  ssnValid,
} from '../../src/dlp/index.js';

describe('DLP validators', () => {
  it('luhn accepts valid card numbers and rejects a changed digit', () => {
    expect(luhnValid('4111111111111111')).toBe(true);
    expect(luhnValid('4111 1111 1111 1111')).toBe(true);
    expect(luhnValid('378282246310005')).toBe(true);
    expect(luhnValid('4111111111111112')).toBe(false);
    expect(luhnValid('7')).toBe(false);
  });

  it('iban checks country, length and mod-97', () => {
    expect(ibanValid('GB82WEST12345698765432')).toBe(true);
    expect(ibanValid('GB82 WEST 1234 5698 7654 32')).toBe(true);
    expect(ibanValid('DE89370400440532013000')).toBe(true);
    expect(ibanValid('GB83WEST12345698765432')).toBe(false); // check digits
    expect(ibanValid('GB82WEST1234569876543')).toBe(false); // length
    expect(ibanValid('QQ82WEST12345698765432')).toBe(false); // country
  });

  it('ssn rejects area 000, 666, 9xx, group 00, serial 0000', () => {
    expect(ssnValid('123456780')).toBe(true);
    for (const bad of [
      '000123456',
      '666123456',
      '900123456',
      '999123456',
      '123006789',
      '123450000',
      '078051120',
    ])
      expect(ssnValid(bad), bad).toBe(false);
  });

  it('entropy separates random tokens from words', () => {
    expect(shannonEntropy('aaaaaaaa')).toBe(0);
    expect(shannonEntropy('abcd')).toBeCloseTo(2);
    expect(shannonEntropy('k9Zq2LmX7pRt4VwB')).toBeGreaterThan(3.5);
  });

  it('jwt header must decode to JSON with alg', () => {
    const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    expect(jwtHeaderValid(enc({ alg: 'HS256', typ: 'JWT' }))).toBe(true);
    expect(jwtHeaderValid(enc({ typ: 'JWT' }))).toBe(false);
    expect(jwtHeaderValid('eyJnotbase64json')).toBe(false);
  });

  it('placeholders', () => {
    for (const p of [
      '<YOUR_API_KEY>',
      '${TOKEN}',
      '{{ secret }}',
      'xxxxxxxx',
      'AKIAIOSFODNN7EXAMPLE',
      'abcdefgh',
      '11111111',
    ])
      expect(isPlaceholder(p), p).toBe(true);
    expect(isPlaceholder('k9Zq2LmX7pRt4VwB')).toBe(false);
    // Template placeholders are the narrower kind that refuses even a token of a known format.
    for (const p of ['<YOUR_API_KEY>', '${TOKEN}', '{{ secret }}', 'xxxxxxxx', 'changeme', '11111111'])
      expect(isTemplatePlaceholder(p), p).toBe(true);
    for (const p of ['AKIAIOSFODNN7EXAMPLE', 'abcdefgh', 'k9Zq2LmX7pRt4VwB'])
      expect(isTemplatePlaceholder(p), p).toBe(false);
  });
});
