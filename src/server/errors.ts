import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { CountersignError, type ErrorCode } from '../core/errors.js';
import type { Metrics } from './metrics.js';

// Fastify's own errors for bad input, mapped to our stable codes.
const FASTIFY_CODES: Record<string, { code: ErrorCode; message?: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { code: 'PAYLOAD_TOO_LARGE', message: 'request body is too large' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    code: 'INVALID_REQUEST',
    message: 'Content-Type must be application/json',
  },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    code: 'INVALID_REQUEST',
    message: 'Content-Length does not match the body',
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: {
    code: 'INVALID_REQUEST',
    message: 'the body is empty but Content-Type is application/json; send a JSON object',
  },
  FST_ERR_CTP_INVALID_JSON_BODY: { code: 'INVALID_REQUEST' },
  FST_ERR_CTP_MALFORMED_BODY: { code: 'INVALID_REQUEST' },
};

export function sendError(
  reply: FastifyReply,
  code: ErrorCode,
  message: string,
  status = new CountersignError(code, message).status,
): FastifyReply {
  return reply
    .code(status)
    .header('content-type', 'application/json; charset=utf-8')
    .send({ error: { code, message, requestId: String(reply.request.id) } });
}

/** The one error handler: typed errors keep their code; anything unknown is a logged 500 that leaks nothing. */
export function errorHandler(metrics: Metrics) {
  return (err: FastifyError, req: FastifyRequest, reply: FastifyReply) => {
    if (err instanceof CountersignError) {
      metrics.refusals.inc({ code: err.code });
      if (err.status >= 500) req.log.error({ err: err.cause ?? err }, err.message);
      return sendError(reply, err.code, err.message);
    }
    const mapped = err.code ? FASTIFY_CODES[err.code] : undefined;
    if (mapped) {
      metrics.refusals.inc({ code: mapped.code });
      const message =
        mapped.message ?? `malformed JSON body: ${err.message.replace(/^Body is not valid JSON but /, '')}`;
      return sendError(reply, mapped.code, message);
    }
    if (err.statusCode === 429) return sendError(reply, 'RATE_LIMITED', 'too many requests; slow down', 429);
    if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
      return sendError(reply, 'INVALID_REQUEST', err.message);
    }
    req.log.error({ err }, 'unhandled error');
    return sendError(reply, 'INTERNAL', 'internal error; see the gateway log for this request id');
  };
}
