import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Prometheus metrics for `/metrics`. One registry per app, so tests and several apps don't collide. */
export class Metrics {
  readonly registry = new Registry();
  readonly httpRequests = new Counter({
    name: 'countersign_http_requests_total',
    help: 'HTTP requests by route and status code.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });
  readonly httpDuration = new Histogram({
    name: 'countersign_http_request_duration_seconds',
    help: 'HTTP request duration by route.',
    labelNames: ['method', 'route'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5, 30],
    registers: [this.registry],
  });
  readonly submissions = new Counter({
    name: 'countersign_action_requests_total',
    help: 'Submitted action requests by policy effect.',
    labelNames: ['effect'] as const,
    registers: [this.registry],
  });
  readonly reviews = new Counter({
    name: 'countersign_reviews_total',
    help: 'Accepted reviews by verdict.',
    labelNames: ['verdict'] as const,
    registers: [this.registry],
  });
  readonly refusals = new Counter({
    name: 'countersign_refusals_total',
    help: 'Refused calls by error code (e.g. SELF_APPROVAL_FORBIDDEN).',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'countersign_' });
  }
}
