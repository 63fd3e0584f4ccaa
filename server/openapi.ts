import { generateOpenApiDocument } from 'trpc-to-openapi';
import { appRouter } from './router.ts';

/** The OpenAPI document of the REST API, as served and as committed in openapi/openapi.json. */
export function buildOpenApiDocument(): object {
  return generateOpenApiDocument(appRouter, {
    title: 'Instagram autopost API',
    version: '1.0.0',
    baseUrl: '/api/v1',
  });
}
