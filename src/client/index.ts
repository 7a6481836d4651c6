/**
 * The Countersign TypeScript SDK (`countersign/client`): submit an action, wait for the humans, act on
 * the outcome. Used by the CLI and the MCP proxy. Works with the global fetch of Node 20+.
 */

import type { RequestView } from '../gateway/view.js';

// Type-only: the SDK shares the server's view type without importing any server code at run time.
export type ActionRequestView = RequestView;
export type RequestStatus = RequestView['status'];

export interface UsageReportView {
  since: string;
  until: string;
  by: string[];
  rows: {
    group: Record<string, string>;
    requests: number;
    records: number;
    bytes: number;
    external: number;
  }[];
  totals: { requests: number; records: number; bytes: number; external: number };
  externalDestinations: { destination: string; requests: number }[];
}

export interface SubmitRequest {
  action: string;
  resource?: string;
  environment?: string;
  parameters?: Record<string, unknown>;
  reason?: string | null;
  context?: Record<string, unknown>;
  onBehalfOf?: string | { token: string } | null;
}

export interface ClientOptions {
  /** Base URL of the gateway, e.g. `http://127.0.0.1:8080`. */
  url: string;
  /** An API key or OIDC token. */
  token: string;
  /** Marks reviews made through this client (the CLI sends `cli`). */
  channel?: 'api' | 'cli';
  fetch?: typeof fetch;
}

/** An error answered by the gateway, with its stable code (e.g. `SELF_APPROVAL_FORBIDDEN`). */
export class CountersignApiError extends Error {
  override readonly name = 'CountersignApiError';
  readonly code: string;
  readonly status: number;
  constructor(code: string, status: number, message: string) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

export interface WaitOptions {
  /**
   * Called before each new try while the gateway cannot be reached (restarting, say): the error, and how
   * long until the next try. For progress output; the wait goes on regardless.
   */
  onRetry?: (err: CountersignApiError, delayMs: number) => void;
}

/** The first pause before trying a wait again, doubled on each failure up to the last. */
const RETRY_FIRST_MS = 250;
const RETRY_MAX_MS = 5_000;

/** Failures that a restart or a proxy in front of the gateway causes, where trying again can succeed. */
function isTransient(err: unknown): err is CountersignApiError {
  return (
    err instanceof CountersignApiError &&
    (err.code === 'UNAVAILABLE' || err.status === 502 || err.status === 503 || err.status === 504)
  );
}

export class CountersignClient {
  readonly #url: string;
  readonly #token: string;
  readonly #channel: string | undefined;
  readonly #fetch: typeof fetch;
  /** Whether the gateway has answered this client yet (see `wait`). */
  #reached = false;

  constructor(opts: ClientOptions) {
    this.#url = opts.url.replace(/\/+$/, '');
    this.#token = opts.token;
    this.#channel = opts.channel;
    this.#fetch = opts.fetch ?? fetch;
  }

  submit(req: SubmitRequest, opts: { idempotencyKey?: string } = {}): Promise<ActionRequestView> {
    return this.#call(
      'POST',
      '/v1/actions',
      req,
      opts.idempotencyKey ? { 'idempotency-key': opts.idempotencyKey } : {},
    );
  }

  get(id: string): Promise<ActionRequestView> {
    return this.#call('GET', `/v1/requests/${encodeURIComponent(id)}`);
  }

  async list(opts: { status?: RequestStatus; limit?: number } = {}): Promise<ActionRequestView[]> {
    const q = new URLSearchParams();
    if (opts.status) q.set('status', opts.status);
    if (opts.limit) q.set('limit', String(opts.limit));
    const res = await this.#call<{ requests: ActionRequestView[] }>('GET', `/v1/requests?${q.toString()}`);
    return res.requests;
  }

  approve(id: string, comment?: string): Promise<ActionRequestView> {
    return this.#call('POST', `/v1/requests/${encodeURIComponent(id)}/approve`, { comment: comment ?? null });
  }

  deny(id: string, comment?: string): Promise<ActionRequestView> {
    return this.#call('POST', `/v1/requests/${encodeURIComponent(id)}/deny`, { comment: comment ?? null });
  }

  cancel(id: string, reason?: string): Promise<ActionRequestView> {
    return this.#call('POST', `/v1/requests/${encodeURIComponent(id)}/cancel`, { reason: reason ?? null });
  }

  /** The data usage report (admin or auditor): `since`/`until` are ISO-8601 times or durations like `7d`. */
  usage(q: { since?: string; until?: string; by?: string[] } = {}): Promise<UsageReportView> {
    const p = new URLSearchParams();
    if (q.since) p.set('since', q.since);
    if (q.until) p.set('until', q.until);
    if (q.by) p.set('by', q.by.join(','));
    return this.#call('GET', `/v1/usage?${p.toString()}`);
  }

  /**
   * Waits until the request is settled or `timeoutMs` passes (then returns it still pending), chaining
   * server-side long-polls of at most 60 s so that proxies don't cut a long wait.
   *
   * A gateway that goes away during the wait (a restart, a deploy) is tried again, with pauses growing
   * from 0.25 to 5 s, until the deadline: the request and its outcome are in the gateway's store, so
   * the wait picks up where it was (invariant 9). Only once this client has reached the gateway, so
   * that a wrong URL still fails at once; past the deadline, the last error is thrown.
   */
  async wait(id: string, timeoutMs: number, options: WaitOptions = {}): Promise<ActionRequestView> {
    const deadline = Date.now() + timeoutMs;
    let pause = RETRY_FIRST_MS;
    for (;;) {
      const left = Math.max(0, deadline - Date.now());
      const seconds = Math.min(60, Math.ceil(left / 1000));
      let req: ActionRequestView;
      try {
        req = await this.#call<ActionRequestView>(
          'GET',
          `/v1/requests/${encodeURIComponent(id)}/wait?timeout=${seconds}`,
        );
      } catch (err) {
        if (!this.#reached || !isTransient(err) || Date.now() + pause >= deadline) throw err;
        options.onRetry?.(err, pause);
        await new Promise((resolve) => setTimeout(resolve, pause));
        pause = Math.min(pause * 2, RETRY_MAX_MS);
        continue;
      }
      pause = RETRY_FIRST_MS;
      if (req.status !== 'pending' || Date.now() >= deadline) return req;
    }
  }

  async #call<T>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<T> {
    let res: Response;
    try {
      res = await this.#fetch(`${this.#url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.#token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(this.#channel ? { 'x-countersign-channel': this.#channel } : {}),
          ...headers,
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
      throw new CountersignApiError('UNAVAILABLE', 0, `cannot reach the gateway at ${this.#url} (${cause})`);
    }
    this.#reached = true;
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const e = (json as { error?: { code?: string; message?: string } } | undefined)?.error;
      throw new CountersignApiError(e?.code ?? 'INTERNAL', res.status, e?.message ?? `HTTP ${res.status}`);
    }
    return json as T;
  }
}
