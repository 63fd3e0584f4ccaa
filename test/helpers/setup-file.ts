import { afterAll, expect } from 'vitest';
import { openApiViolations } from './openapi.ts';

// Every REST response any test received must match openapi/openapi.json.
afterAll(() => {
  expect(openApiViolations, openApiViolations.join('\n')).toEqual([]);
});
