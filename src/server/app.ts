import { randomUUID } from 'node:crypto';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import type { Logger } from 'pino';
import { CountersignError } from '../core/errors.js';
import type { Principal } from '../core/types.js';
import type { Gateway } from '../gateway/gateway.js';
import type { Store } from '../store/store.js';
import { auditRoutes, type AuditRouteDeps } from './audit-routes.js';
import { usageRoutes } from './usage-routes.js';
import { errorHandler, sendError } from './errors.js';
import { registerJsonBodyParser } from './json-body.js';
import { Metrics } from './metrics.js';
import { InFlight } from './in-flight.js';
import { buildOpenApi } from './openapi.js';
import { requestLogger } from './request-logger.js';
import { requestRoutes } from './request-routes.js';
import type { RouteSpec } from './route.js';

export interface AppOptions {
  gateway: Gateway;
  store: Store;
  /**
   * Resolves a bearer token to a principal, or throws UNAUTHENTICATED. `recent`: an API key may be taken
   * as last read (see `RouteSpec.keyCheckedAtWrite`).
   */
  authenticate: (token: string, recent: boolean) => Promise<Principal>;
  logger: Logger;
  /** Per principal (0 turns it off). */
  requestsPerMinute: number;
  bodyBytes: number;
  version: string;
  /** The verifiable audit log's routes (checkpoints, proofs, reveal). */
  audit: AuditRouteDeps;
  /** Destination patterns that data flows may go to without counting as external (DLP usage). */
  trustedDestinations: readonly string[];
  /** Channel callbacks (e.g. Slack interactivity), each a Fastify plugin with its own body parsing. */
  integrations?: ((app: FastifyInstance) => Promise<void>)[];
}

/** How long a shutdown waits for the requests in flight to be answered before closing the connections. */
const SHUTDOWN_DRAIN_MS = 5_000;

// The scheme name is case-insensitive (RFC 9110 11.1); the token is not.
const BEARER = /^Bearer ([\x21-\x7e]{1,8192})$/i;
// The key id inside an API key names the principal without a database read.
const KEY_ID = /^cs_(ak_[0-9a-f]{16})_/;

/** The id of the API key an Authorization header carries, or null when it carries none. */
function apiKeyIdOf(req: FastifyRequest): string | null {
  return KEY_ID.exec(req.headers.authorization?.slice('Bearer '.length) ?? '')?.[1] ?? null;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  const metrics = new Metrics();
  // Helmet's security headers. The plugin builds its middleware (and parses the CSP) anew for every
  // request; with a fixed configuration the headers are always the same, so they are taken once from
  // the plugin itself and set on each response.
  const security = await helmetHeaders();
  // With the request id, set on the raw response at the start: every answer carries them, errors
  // included, without an onSend hook (whose runner costs every response a few microseconds).
  const setResponseHeaders = (req: FastifyRequest, reply: FastifyReply): void => {
    for (const [name, value] of security) reply.raw.setHeader(name, value);
    reply.raw.setHeader('x-request-id', req.id);
  };
  const app = Fastify({
    // Widen pino's Logger to Fastify's logger type so the app is a plain FastifyInstance to its callers.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion
    loggerInstance: opts.logger as FastifyBaseLogger,
    bodyLimit: opts.bodyBytes,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && /^[\w.-]{1,100}$/.test(given) ? given : randomUUID();
    },
    requestIdHeader: false,
    return503OnClosing: true,
    forceCloseConnections: true,
    childLoggerFactory: requestLogger,
    // A path Fastify cannot route (bad percent-encoding, a segment past its length limit) names no
    // request and no route: 404 in our error shape, not Fastify's own body.
    frameworkErrors: (err, req, reply) => {
      // No hook runs for these: the headers every other response gets are set here.
      setResponseHeaders(req, reply);
      const known = err.code === 'FST_ERR_BAD_URL' || err.code === 'FST_ERR_MAX_PARAM_LENGTH';
      if (known) void sendError(reply, 'NOT_FOUND', 'no route or request matches this path');
      else void sendError(reply, 'INVALID_REQUEST', err.message);
    },
  });
  registerJsonBodyParser(app);
  app.setErrorHandler(errorHandler(metrics));
  app.setNotFoundHandler((req, reply) =>
    sendError(reply, 'NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0] ?? ''}`),
  );
  const inFlight = new InFlight();
  // Callback-style hooks: an async hook costs a promise and a microtask per request.
  app.addHook('onRequest', (req, reply, done) => {
    setResponseHeaders(req, reply);
    inFlight.track(reply.raw);
    done();
  });
  if (opts.requestsPerMinute > 0) {
    await app.register(rateLimit, {
      max: opts.requestsPerMinute,
      timeWindow: 60_000,
      // Slack and Teams call back from their own shared addresses: a per-IP budget would throttle every
      // reviewer's clicks together. Those routes verify a signature or token before doing anything.
      allowList: (req) => req.url.startsWith('/integrations/'),
      keyGenerator: (req) => {
        const id = apiKeyIdOf(req);
        return id !== null ? `key:${id}` : `ip:${req.ip}`;
      },
      errorResponseBuilder: (_req, ctx) =>
        new CountersignError(
          'RATE_LIMITED',
          `rate limit of ${ctx.max} requests per minute exceeded; retry in ${ctx.after}`,
        ),
    });
  }
  app.addHook('onResponse', httpMetricsHook(metrics));
  // At shutdown, after Fastify has stopped routing new requests and before it closes the connections:
  // every parked `wait` answers the request as it stands (its client waits again instead of seeing a cut
  // connection), and every request in flight is answered, so no write meets a closed store.
  app.addHook('preClose', async () => {
    opts.gateway.waiters.releaseAll();
    await inFlight.ended(SHUTDOWN_DRAIN_MS);
  });

  const authenticate = async (req: FastifyRequest, recent: boolean): Promise<Principal> => {
    const header = req.headers.authorization;
    if (!header)
      throw new CountersignError('UNAUTHENTICATED', 'missing Authorization: Bearer <api key or OIDC JWT>');
    const m = BEARER.exec(header);
    if (!m) throw new CountersignError('UNAUTHENTICATED', 'Authorization must be "Bearer <token>"');
    const principal = await opts.authenticate(m[1] as string, recent);
    req.principal = principal;
    return principal;
  };

  const routes: RouteSpec[] = [
    ...requestRoutes(opts.gateway, metrics),
    ...auditRoutes(opts.store, opts.audit),
    ...usageRoutes(opts.store, opts.audit.clock, opts.trustedDestinations),
    ...opsRoutes(opts, metrics),
  ];
  const openapi = buildOpenApi(routes, opts.version);
  routes.push({
    method: 'GET',
    url: '/v1/openapi.json',
    summary: 'This API, as an OpenAPI 3.1 document',
    tags: ['operations'],
    auth: false,
    responses: { 200: { description: 'The OpenAPI document', contentType: 'application/json' } },
    handler: async () => openapi,
  });
  for (const r of routes) {
    app.route({
      method: r.method,
      url: r.url,
      handler: async (req, reply) => {
        if (!r.auth)
          return r.handler({ req, reply, principal: undefined as unknown as Principal, apiKeyId: null });
        const principal = await authenticate(req, r.keyCheckedAtWrite?.(req) === true);
        return r.handler({ req, reply, principal, apiKeyId: apiKeyIdOf(req) });
      },
    });
  }
  for (const plugin of opts.integrations ?? []) await app.register(plugin);
  return app;
}

function opsRoutes(opts: AppOptions, metrics: Metrics): RouteSpec[] {
  return [
    {
      method: 'GET',
      url: '/healthz',
      summary: 'Liveness: the process is up',
      tags: ['operations'],
      auth: false,
      responses: { 200: { description: '`{"status":"ok"}`' } },
      handler: async () => ({ status: 'ok' }),
    },
    {
      method: 'GET',
      url: '/readyz',
      summary: 'Readiness: the store answers',
      tags: ['operations'],
      auth: false,
      responses: {
        200: { description: '`{"status":"ready"}`' },
        503: { description: 'The store is unreachable' },
      },
      handler: async () => {
        try {
          await opts.store.ping();
        } catch (err) {
          throw new CountersignError('UNAVAILABLE', 'the store is unreachable', { cause: err });
        }
        return { status: 'ready', store: opts.store.kind };
      },
    },
    {
      method: 'GET',
      url: '/metrics',
      summary: 'Prometheus metrics',
      tags: ['operations'],
      auth: false,
      responses: { 200: { description: 'Prometheus text format', contentType: 'text/plain' } },
      handler: async ({ reply }) => {
        void reply.header('content-type', metrics.registry.contentType);
        return metrics.registry.metrics();
      },
    },
  ];
}

/** Counts each answered request, and its duration, by route and status (Prometheus). */
export function httpMetricsHook(
  metrics: Metrics,
): (req: FastifyRequest, reply: FastifyReply, done: () => void) => void {
  return (req, reply, done) => {
    const route = req.routeOptions.url ?? 'unmatched';
    metrics.httpRequests.inc({ method: req.method, route, status: String(reply.statusCode) });
    metrics.httpDuration.observe({ method: req.method, route }, reply.elapsedTime / 1000);
    done();
  };
}

/**
 * The headers @fastify/helmet (default configuration) sets on a response, read off one response of a
 * throwaway app: those it has that the same app without helmet does not. (Exported for bench/ladder.js.)
 */
export async function helmetHeaders(): Promise<[string, string][]> {
  const probe = async (withHelmet: boolean) => {
    const app = Fastify({ logger: false });
    if (withHelmet) await app.register(helmet, { global: true });
    app.get('/', async () => ({}));
    const res = await app.inject({ method: 'GET', url: '/' });
    await app.close();
    return res.headers;
  };
  const [plain, helmeted] = [await probe(false), await probe(true)];
  const headers: [string, string][] = [];
  for (const [name, value] of Object.entries(helmeted)) {
    if (name in plain || value === undefined) continue;
    headers.push([name, Array.isArray(value) ? value.join(', ') : String(value)]);
  }
  if (headers.length === 0) throw new Error('@fastify/helmet set no headers on the probe response');
  return headers;
}
