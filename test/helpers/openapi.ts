import { readFileSync } from 'node:fs';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import createFetchClient, { type Middleware } from 'openapi-fetch';
import type { paths } from '../../sdk/src/generated/rest.ts';
import { checkRequestId } from './http.ts';

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

const document = JSON.parse(readFileSync(new URL('../../openapi/openapi.json', import.meta.url), 'utf8'));
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema({ $id: 'openapi', components: document.components });

// Literal paths before templated ones: /instagrams/connect is not /instagrams/{id}.
const templates = Object.keys(document.paths)
  .map((template) => ({
    template,
    regex: new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`),
    params: (template.match(/\{/g) ?? []).length,
  }))
  .sort((a, b) => a.params - b.params);
const compiled = new Map<string, ValidateFunction>();

/** Responses that did not match the document, collected for a final assertion. */
export const openApiViolations: string[] = [];

/**
 * Checks one REST response against openapi/openapi.json: the path and
 * method exist, the status is documented (or covered by `default`), the
 * body matches its schema, and it is JSON.
 */
export function checkAgainstOpenApi(
  method: string,
  url: string,
  status: number,
  contentType: string | null,
  body: unknown,
): string | null {
  const pathname = new URL(url).pathname.replace(/^\/api\/v1/, '').replace(/(.)\/$/, '$1');
  const match = templates.find((t) => t.regex.test(pathname));
  if (!match) return status === 404 ? null : `${method} ${pathname}: not in openapi.json (got ${status})`;
  const operation = document.paths[match.template][method.toLowerCase()];
  if (!operation)
    return status === 404 || status === 405 ? null : `${method} ${match.template}: no such operation`;
  const responseKey = operation.responses[String(status)] ? String(status) : 'default';
  const response = operation.responses[responseKey];
  if (!response) return `${method} ${match.template}: status ${status} is not documented`;
  if (!contentType?.startsWith('application/json')) return `${method} ${match.template} ${status}: not JSON`;
  const key = `${method} ${match.template} ${responseKey}`;
  let validate = compiled.get(key);
  if (!validate) {
    const schema = response.content['application/json'].schema;
    validate = ajv.compile(
      JSON.parse(JSON.stringify(schema).replaceAll('"#/components', '"openapi#/components')),
    );
    compiled.set(key, validate);
  }
  if (!validate(body))
    return `${key}: ${ajv.errorsText(validate.errors)} in ${JSON.stringify(body).slice(0, 300)}`;
  return null;
}

export function recordViolation(problem: string): void {
  openApiViolations.push(problem);
}

export function recordOpenApiCheck(...args: Parameters<typeof checkAgainstOpenApi>): void {
  const problem = checkAgainstOpenApi(...args);
  if (problem) openApiViolations.push(problem);
}

const validating: Middleware = {
  async onResponse({ request, response }) {
    const text = await response.clone().text();
    const body: unknown = text ? JSON.parse(text) : undefined;
    recordOpenApiCheck(
      request.method,
      request.url,
      response.status,
      response.headers.get('content-type'),
      body,
    );
    checkRequestId(response.status, response.headers, body);
    return response;
  },
};

/** An openapi-fetch client typed from the generated document that checks every response against it. */
export function restClient(baseUrl: string, token?: string) {
  const client = createFetchClient<paths>({
    baseUrl: `${baseUrl}/api/v1`,
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  client.use(validating);
  return client;
}
