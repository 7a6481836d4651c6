import { Environment } from '@marcbachmann/cel-js';
import { guardOf, type Guard } from './guard.js';

/**
 * The CEL environment every rule condition is compiled in (docs/policy.md "CEL variables").
 * Declaring the variables makes a typo such as `enviroment` a load error instead of a runtime deny.
 * Built once: creating an Environment is the expensive part.
 */
const env = new Environment({ unlistedVariablesAreDyn: false })
  .registerVariable('action', 'string')
  .registerVariable('resource', 'string')
  .registerVariable('environment', 'string')
  .registerVariable('parameters', 'dyn')
  .registerVariable('reason', 'string')
  .registerVariable('context', 'map<string, dyn>')
  .registerVariable('requester', 'map<string, dyn>')
  .registerVariable('onBehalfOf', 'map<string, dyn>')
  .registerVariable('dlp', 'map<string, dyn>')
  .registerVariable('now', 'google.protobuf.Timestamp');

export type Condition = (activation: Record<string, unknown>) => unknown;

export type CompileResult = { ok: true; condition: Condition; guard: Guard } | { ok: false; message: string };

/** Parses and type-checks one `when`; the result must be bool (or dyn, checked again at evaluation). */
export function compileCondition(expression: string): CompileResult {
  let parsed;
  try {
    parsed = env.parse(expression);
  } catch (error) {
    return { ok: false, message: `CEL syntax error: ${celMessage(error)}` };
  }
  const checked = parsed.check();
  if (!checked.valid) return { ok: false, message: `CEL type error: ${celMessage(checked.error)}` };
  if (checked.type !== 'bool' && checked.type !== 'dyn') {
    return {
      ok: false,
      message: `condition must be a boolean, but it returns ${checked.type ?? 'an unknown type'}`,
    };
  }
  return { ok: true, condition: parsed, guard: guardOf(parsed.ast) };
}

/** cel-js messages carry a multi-line source excerpt; a problem line wants the summary and the column. */
export function celMessage(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const withSummary = error as Error & { summary?: unknown; range?: { start: number } };
  const summary =
    typeof withSummary.summary === 'string' && withSummary.summary !== ''
      ? withSummary.summary
      : (error.message.split('\n')[0] ?? error.message);
  const column = withSummary.range === undefined ? '' : ` (at column ${withSummary.range.start + 1})`;
  return `${summary}${column}`;
}
