import type { FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import type { Principal } from '../core/types.js';

/** One HTTP route: its schemas feed both validation and the OpenAPI document. */
export interface RouteSpec {
  method: 'GET' | 'POST';
  url: string;
  summary: string;
  tags: string[];
  /** Whether a bearer credential is required. */
  auth: boolean;
  /**
   * For a route whose write checks the caller's API key again inside its transaction (it passes
   * `apiKeyId` on as `insertRequest`'s `liveKey`): when this returns true for a request, authentication
   * may use the key as last read (`Store.recentApiKey`) instead of reading it again.
   */
  keyCheckedAtWrite?: (req: FastifyRequest) => boolean;
  params?: z.ZodType;
  query?: z.ZodType;
  body?: z.ZodType;
  /** Status code → schema (or a content type for non-JSON responses). */
  responses: Record<number, { description: string; schema?: z.ZodType; contentType?: string }>;
  headers?: Record<string, string>;
  handler: (ctx: RouteContext) => Promise<unknown>;
}

export interface RouteContext {
  req: FastifyRequest;
  reply: FastifyReply;
  /** Set when the route requires auth. */
  principal: Principal;
  /** The API key the caller authenticated with, when its credential is one (else null). */
  apiKeyId: string | null;
}
