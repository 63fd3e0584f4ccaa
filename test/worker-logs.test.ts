import { describe, expect, it } from 'vitest';
import { workerLogger } from '../server/worker/logger.ts';
import { captureLogger } from './helpers/server.ts';

describe("graphile-worker's log lines", () => {
  it('keep neither query parameters, nor job payloads, nor connection details', () => {
    const { logger, text } = captureLogger();
    const log = workerLogger(logger).scope({});
    const query = new Error(
      'Failed query: insert into posts (token_ciphertext) values ($1)\nparams: EAAGsecret-token-ciphertext',
    );
    const connection = Object.assign(new Error('connect ECONNREFUSED 10.1.2.3:5432'), {
      code: 'ECONNREFUSED',
      address: '10.1.2.3',
      port: 5432,
      client: { database: 'prod', processID: 4242, secretKey: 987654321 },
    });
    log.error(
      `Failed task 7 (publish_post, 12.00ms, attempt 1 of 25) with error '${query.message}':\n  ${query.stack}`,
      {
        failure: true,
        job: { id: '7', task_identifier: 'publish_post', attempts: 1, payload: { postId: 1, token: 'x' } },
        error: query,
      },
    );
    log.error('PostgreSQL idle client generated error', { error: connection });
    const out = text();
    expect(out).toContain('Failed task 7');
    expect(out).toContain('"code":"ECONNREFUSED"');
    for (const leak of [
      'EAAGsecret',
      'params:',
      '10.1.2.3',
      '5432',
      'secretKey',
      '987654321',
      '"payload"',
      'prod',
    ])
      expect(out, leak).not.toContain(leak);
  });
});
