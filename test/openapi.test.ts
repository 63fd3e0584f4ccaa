import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOpenApiDocument } from '../server/openapi.ts';
import { checkAgainstOpenApi } from './helpers/openapi.ts';
import { jsonClient } from './helpers/http.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';

const committed = JSON.parse(readFileSync(new URL('../openapi/openapi.json', import.meta.url), 'utf8'));
const operations = Object.entries<any>(committed.paths).flatMap(([path, item]) =>
  Object.entries<any>(item).map(([method, op]) => ({ path, method, op })),
);

function everySchema(node: any, visit: (n: any) => void): void {
  if (Array.isArray(node)) node.forEach((n) => everySchema(n, visit));
  else if (node && typeof node === 'object') {
    visit(node);
    Object.values(node).forEach((n) => everySchema(n, visit));
  }
}

describe('openapi/openapi.json follows docs/openapi-rules.md', () => {
  it('is up to date with the router', () => {
    expect(committed).toEqual(JSON.parse(JSON.stringify(buildOpenApiDocument())));
  });

  it('1. is OpenAPI 3.1.0', () => {
    expect(committed.openapi).toBe('3.1.0');
  });

  it('2. gives every operation a unique camelCase operationId, a summary and a tag', () => {
    const ids = operations.map(({ op }) => op.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const { op } of operations) {
      expect(op.operationId).toMatch(/^[a-z][a-zA-Z]+$/);
      expect(op.summary).toBeTruthy();
      expect(op.tags?.length).toBeGreaterThan(0);
    }
    expect(ids).toEqual(
      expect.arrayContaining([
        'createPost',
        'listPosts',
        'getPost',
        'updatePost',
        'replacePost',
        'deletePost',
        'listPostEvents',
      ]),
    );
  });

  it('3, 7. has no anyOf-with-null and no `not` schemas', () => {
    everySchema(committed, (n) => {
      if (Array.isArray(n.anyOf)) expect(n.anyOf.some((s: any) => s.type === 'null')).toBe(false);
      expect(n).not.toHaveProperty('not');
    });
  });

  it('4. keeps response schemas open', () => {
    for (const { op } of operations) {
      for (const [status, res] of Object.entries<any>(op.responses)) {
        const text = JSON.stringify(res);
        expect(text, `${op.operationId} ${status}`).not.toContain('"additionalProperties":false');
        for (const ref of text.match(/#\/components\/schemas\/\w+/g) ?? []) {
          const schema = committed.components.schemas[ref.split('/').pop()!];
          expect(JSON.stringify(schema), ref).not.toContain('"additionalProperties":false');
        }
      }
    }
  });

  it('5. describes instants as date-time strings without fractional seconds', () => {
    const post = committed.components.schemas.Post.properties;
    for (const field of ['date_pub', 'created_at', 'updated_at']) {
      expect(post[field]).toEqual({ type: 'string', format: 'date-time' });
    }
    expect(post.published_at).toEqual({ type: ['string', 'null'], format: 'date-time' });
    // The validator the REST tests use enforces the format: a non-instant fails.
    const notAnInstant = checkAgainstOpenApi('GET', 'http://x/api/v1/user', 200, 'application/json', {
      id: 1,
      username: 'a',
      created_at: 'yesterday',
      updated_at: '2026-11-22T17:00:00Z',
    });
    expect(notAnInstant).toContain('created_at');
  });

  it('6. uses string enums', () => {
    expect(committed.components.schemas.Post.properties.status).toEqual({
      type: 'string',
      enum: ['scheduled', 'publishing', 'published', 'failed'],
    });
  });

  it('8. points every error response at one Error component', () => {
    for (const { op } of operations) {
      expect(op.responses.default).toBeDefined();
      for (const [status, res] of Object.entries<any>(op.responses)) {
        if (status.startsWith('2')) continue;
        expect(res.content['application/json'].schema, `${op.operationId} ${status}`).toEqual({
          $ref: '#/components/schemas/Error',
        });
      }
    }
    expect(Object.keys(committed.components.schemas).filter((k) => k.startsWith('error.'))).toEqual([]);
  });

  it('9. declares bearer auth and applies it to protected operations only', () => {
    expect(committed.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(committed.components.securitySchemes.bearerAuth.description).toContain('Token <token>');
    const open = operations.filter(({ op }) => op.security.length === 0).map(({ op }) => op.operationId);
    expect(open.sort()).toEqual(['listErrors', 'login', 'obtainToken', 'signup']);
  });

  it('10. has flat scalar query parameters and required path parameters', () => {
    for (const { op } of operations) {
      for (const p of op.parameters ?? []) {
        if (p.in === 'path') expect(p.required).toBe(true);
        if (p.in === 'query') expect(['string', 'integer', 'number', 'boolean']).toContain(p.schema.type);
      }
    }
  });

  it('documents 201 for the operations that create', () => {
    const created = operations.filter(({ op }) => op.responses['201']).map(({ op }) => op.operationId);
    expect(created.sort()).toEqual([
      'createChannel',
      'createInstagram',
      'createPost',
      'createWebhook',
      'signup',
      'uploadMedia',
    ]);
  });
});

describe('the served document and reference page', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.close());

  it('serves the committed document at /openapi.json', async () => {
    const res = await jsonClient(server.baseUrl)('GET', '/openapi.json');
    expect(res.status).toBe(200);
    expect(res.body).toEqual(committed);
  });

  it('serves an interactive reference at /docs with local assets', async () => {
    const res = await fetch(`${server.baseUrl}/docs/`);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('swagger-ui');
    expect(html).not.toMatch(/https?:\/\/(cdn|unpkg)/);
    const init = await fetch(`${server.baseUrl}/docs/swagger-ui-init.js`);
    expect(await init.text()).toContain('createPost');
  });
});
