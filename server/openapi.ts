import { generateOpenApiDocument, type OpenAPIObject } from 'trpc-to-openapi';
import { ERRORS, type ErrorCode } from './errors.ts';
import { appRouter } from './router.ts';
import { proceduresMeta, type Meta } from './trpc.ts';

/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-call --
   This file rewrites the generated document as plain JSON Schema, which has no useful static type. */
type Json = any;

const SAFE_INT = Number.MAX_SAFE_INTEGER;

/** Codes any route may answer besides its own (Meta.errors). */
function commonErrors(op: { method: string; protect: boolean }): ErrorCode[] {
  const codes: ErrorCode[] = ['VALIDATION_FAILED'];
  if (['POST', 'PUT', 'PATCH'].includes(op.method))
    codes.push('MALFORMED_JSON', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE');
  if (op.protect) codes.push('UNAUTHORIZED', 'TOO_MANY_REQUESTS');
  if (op.protect && op.method === 'POST') codes.push('IDEMPOTENCY_KEY_IN_USE', 'IDEMPOTENCY_KEY_REUSED');
  codes.push('INTERNAL', 'SERVICE_UNAVAILABLE');
  return codes;
}

/** One line per code, from the one ERRORS table: "`CODE`: default message". */
function describeCodes(codes: readonly ErrorCode[]): string {
  return codes.map((code) => `\`${code}\`: ${ERRORS[code].message}`).join(' ');
}

/** The error responses of one operation, by HTTP status, from the codes it can answer. */
function errorResponses(codes: ErrorCode[]): Record<string, Json> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of new Set(codes)) {
    const status = ERRORS[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return Object.fromEntries(
    [...byStatus.entries()]
      .sort(([a], [b]) => a - b)
      .map(([status, list]) => [String(status), errorResponse(describeCodes(list))]),
  );
}

const ERROR_SCHEMAS = {
  Error: {
    type: 'object',
    description:
      'The body of every error response. `code` is stable and machine-readable; new codes may be added. ' +
      `Codes: ${Object.keys(ERRORS)
        .map((c) => `\`${c}\``)
        .join(', ')}.`,
    required: ['code', 'number', 'message', 'request_id'],
    properties: {
      code: { type: 'string', example: 'VALIDATION_FAILED' },
      number: {
        type: 'integer',
        example: 8000,
        description:
          'The numbered form of `code` (seed 002 style; `GET /errors` lists them all). Never renumbered.',
      },
      message: { type: 'string', description: 'For people; may change.' },
      issues: {
        type: 'array',
        description: 'Per-field problems, on validation errors.',
        items: { $ref: '#/components/schemas/FieldIssue' },
      },
      request_id: {
        type: 'string',
        description:
          'The id of the request (also the `X-Request-Id` header): quote it when reporting a problem.',
      },
    },
  },
  FieldIssue: {
    type: 'object',
    required: ['path', 'message'],
    properties: {
      path: {
        type: 'string',
        description: 'Dotted path of the field, e.g. `user_tags.0.x`; empty for the body.',
      },
      message: { type: 'string' },
    },
  },
};

const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});

/** Rewrites what trpc-to-openapi emits into what swift-openapi-generator handles (docs/openapi-rules.md). */
function walk(node: Json, visit: (n: Json) => void): void {
  if (Array.isArray(node)) node.forEach((n) => walk(n, visit));
  else if (node && typeof node === 'object') {
    visit(node);
    Object.values(node).forEach((n) => walk(n, visit));
  }
}

function tidySchema(schema: Json, components: Json): void {
  walk(schema, (n) => {
    // Rule 3: anyOf [X, {type: null}] -> X with type [T, "null"]; a nullable $ref is inlined.
    if (Array.isArray(n.anyOf) && n.anyOf.length === 2 && n.anyOf.some((s: Json) => s.type === 'null')) {
      let other = n.anyOf.find((s: Json) => s.type !== 'null');
      if (other.$ref) other = structuredClone(components.schemas[other.$ref.split('/').pop()]);
      delete n.anyOf;
      Object.assign(n, other, { type: [other.type, 'null'] });
      if (Array.isArray(n.enum)) n.enum = [...n.enum, null];
    }
    // Rule 5: instants are plain date-times; zod's 300-character regex adds nothing for clients.
    if (n.format === 'date-time') delete n.pattern;
    if (n.maximum === SAFE_INT) delete n.maximum;
    if (n.minimum === -SAFE_INT) delete n.minimum;
  });
}

/** Rule 4: response objects stay open so fields added later do not break shipped apps. */
function openUp(schema: Json, components: Json, seen = new Set<string>()): void {
  walk(schema, (n) => {
    if (n.additionalProperties === false) delete n.additionalProperties;
    if (typeof n.$ref === 'string') {
      const name = n.$ref.split('/').pop();
      if (!seen.has(name)) {
        seen.add(name);
        openUp(components.schemas[name], components, seen);
      }
    }
  });
}

/** Inlining nullable $refs can leave components that nothing else points at. */
function dropUnusedSchemas(doc: Json): void {
  for (let removed = true; removed;) {
    removed = false;
    for (const name of Object.keys(doc.components.schemas)) {
      const { [name]: _self, ...others } = doc.components.schemas;
      const rest = JSON.stringify({ ...doc, components: { ...doc.components, schemas: others } });
      if (!rest.includes(`"#/components/schemas/${name}"`)) {
        delete doc.components.schemas[name];
        removed = true;
      }
    }
  }
}

const binary = { schema: { type: 'string', format: 'binary' } };

/**
 * POST /media takes a file, which tRPC cannot: the route is plain express
 * (server/media/upload.ts) and described here by hand.
 */
function uploadOperation(): Json {
  const codes: ErrorCode[] = [
    'VALIDATION_FAILED',
    'IDEMPOTENCY_KEY_IN_USE',
    'IDEMPOTENCY_KEY_REUSED',
    'MEDIA_UNREADABLE',
    'MEDIA_REJECTED',
    'UNAUTHORIZED',
    'MEDIA_QUOTA_EXCEEDED',
    'MEDIA_TOO_LARGE',
    'MEDIA_TYPE_UNSUPPORTED',
    'TOO_MANY_REQUESTS',
    'INTERNAL',
    'SERVICE_UNAVAILABLE',
  ];
  return {
    operationId: 'uploadMedia',
    summary: 'Upload a photo or video',
    description:
      'The file is the body, with its own Content-Type (or the field `file` of a multipart form). ' +
      'Images (JPEG, PNG, HEIC, HEIF, WebP; at most 30 MB) become an sRGB JPEG of at most 1440 px and 8 MB, ' +
      'turned upright, with every metadata block (GPS included) removed. Videos (MP4, MOV; at most 300 MB) are ' +
      'stored as sent once their codec (H.264/HEVC) and duration (3 s to 15 min) are checked. Use the answer’s ' +
      '`url` in a post.',
    tags: ['media'],
    security: [{ bearerAuth: [] }],
    parameters: [{ $ref: '#/components/parameters/IdempotencyKey' }],
    requestBody: {
      required: true,
      content: {
        'image/jpeg': binary,
        'image/png': binary,
        'image/heic': binary,
        'image/heif': binary,
        'image/webp': binary,
        'video/mp4': binary,
        'video/quicktime': binary,
        'multipart/form-data': {
          schema: {
            type: 'object',
            required: ['file'],
            properties: { file: { type: 'string', format: 'binary' } },
          },
        },
      },
    },
    responses: {
      '201': {
        description: 'Created',
        content: { 'application/json': { schema: { $ref: '#/components/schemas/Media' } } },
      },
      ...errorResponses(codes),
      default: errorResponse('Any other error, in the same shape.'),
    },
  };
}

/** The optional header every protected POST takes (server/idempotency/). */
const IDEMPOTENCY_KEY = {
  name: 'Idempotency-Key',
  in: 'header',
  required: false,
  description:
    'Makes a retry safe: the same key with the same request within 24 hours answers the first answer again ' +
    '(with `Idempotent-Replayed: true`) and creates nothing. A new UUID per new request is a good choice. ' +
    '1 to 255 visible ASCII characters.',
  schema: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[\\x21-\\x7E]+$' },
};

/** The OpenAPI document of the REST API, as served at /openapi.json and committed in openapi/openapi.json. */
export function buildOpenApiDocument(): OpenAPIObject {
  const doc: Json = generateOpenApiDocument(appRouter, {
    title: 'Instagram autopost API',
    version: '1.0.0',
    description:
      'Schedules Instagram posts and publishes them through the Instagram Graph API. ' +
      'Every path also works with a trailing slash. Instants are UTC RFC 3339 without fractional seconds.',
    baseUrl: '/api/v1',
    securitySchemes: {
      bearerAuth: {
        type: 'http',
        scheme: 'bearer',
        description:
          'A token from `POST /login`, `POST /api-token-auth/` or `npm run create-token`. ' +
          '`Authorization: Token <token>` (the Django REST style) is accepted too.',
      },
    },
  });
  const components = doc.components;
  for (const name of Object.keys(components.schemas)) {
    if (name.startsWith('error.')) delete components.schemas[name];
  }
  Object.assign(components.schemas, ERROR_SCHEMAS);

  const metaByOperation = new Map<string, Meta>();
  for (const meta of proceduresMeta(appRouter).values()) {
    if (meta.openapi?.operationId) metaByOperation.set(meta.openapi.operationId, meta);
  }

  for (const pathItem of Object.values<Json>(doc.paths)) {
    for (const op of Object.values<Json>(pathItem)) {
      const meta = metaByOperation.get(op.operationId)!;
      const success = meta.successStatus ?? 200;
      const ok = op.responses['200'];
      ok.description = success === 201 ? 'Created' : 'OK';
      const codes = [
        ...(meta.errors ?? []),
        ...commonErrors({ method: meta.openapi!.method, protect: meta.openapi!.protect !== false }),
      ];
      const other = meta.otherSuccessStatus;
      op.responses = {
        ...(other ? { [String(other)]: { ...ok, description: other === 200 ? 'OK' : 'Created' } } : {}),
        [String(success)]: ok,
        ...errorResponses(codes),
        default: errorResponse('Any other error, in the same shape.'),
      };
      // Rule 9: say outright that login and signup need no token.
      op.security ??= [];
      if (meta.openapi!.method === 'POST' && meta.openapi!.protect !== false)
        op.parameters = [...(op.parameters ?? []), { $ref: '#/components/parameters/IdempotencyKey' }];
      tidySchema(op, components);
      for (const [status, response] of Object.entries<Json>(op.responses)) {
        if (status.startsWith('2')) openUp(response, components);
      }
    }
  }
  doc.paths['/media'].post = uploadOperation();
  components.parameters = { ...components.parameters, IdempotencyKey: IDEMPOTENCY_KEY };
  tidySchema(components.schemas, components);
  dropUnusedSchemas(doc);
  return doc as OpenAPIObject;
}
