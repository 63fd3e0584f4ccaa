/**
 * Creates an API token for a user, creating the user first when --password is
 * given and the user is new. The token is printed alone on the last line of
 * stdout; everything else goes before it or to stderr.
 */
import { parseArgs } from 'node:util';
import { createSession } from '../server/auth/sessions.ts';
import { PASSWORD_MIN_LENGTH } from '../server/auth/password.ts';
import { createUser, findUserByUsername } from '../server/auth/users.ts';
import { connect } from '../server/db/client.ts';
import { migrateDatabase } from '../server/db/migrate.ts';
import { resolveDatabaseUrl } from '../server/db/resolve.ts';
import { ConfigError, parseEnv } from '../server/env.ts';
import { AppError } from '../server/errors.ts';
import { parseDuration } from '../server/lib/duration.ts';
import { formatInstant } from '../server/lib/time.ts';
import { createLogger } from '../server/logger.ts';

const USAGE = `Usage: npm run create-token -- --username <name> [options]

Creates an API token for <name> and prints it as the last line.

Options:
  --username <name>     the user (required)
  --password <p>        create the user with this password if it does not exist
  --password-stdin      read that password from standard input instead
  --expires-in <d>      token lifetime, e.g. 90d, 12h, 30m (default 30d);
                        each use pushes expiry out again once half is used
  --label <text>        a note stored with the token (e.g. "ci", "ops laptop")
  -h, --help            show this help

Uses DATABASE_URL, or the embedded database under DATA_DIR (default .data).`;

class UsageError extends Error {}

async function readStdin(): Promise<string> {
  let data = '';
  for await (const chunk of process.stdin) data += String(chunk);
  return data.replace(/\r?\n$/, '');
}

async function run(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        username: { type: 'string' },
        password: { type: 'string' },
        'password-stdin': { type: 'boolean' },
        'expires-in': { type: 'string', default: '30d' },
        label: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const username = values.username?.trim();
  if (!username) throw new UsageError('--username is required');
  const ttlSeconds = parseDuration(values['expires-in']);
  if (ttlSeconds === null) throw new UsageError(`--expires-in must look like 30d, 12h or 45m`);
  if (values.password !== undefined && values['password-stdin'])
    throw new UsageError('use either --password or --password-stdin, not both');
  const password = values['password-stdin'] ? await readStdin() : values.password;
  if (password !== undefined && password.length < PASSWORD_MIN_LENGTH)
    throw new UsageError(`the password must be at least ${PASSWORD_MIN_LENGTH} characters`);

  const env = parseEnv();
  const logger = createLogger(env.LOG_LEVEL === 'info' ? 'warn' : env.LOG_LEVEL, 2);
  const dbHandle = await resolveDatabaseUrl(env, logger);
  try {
    await migrateDatabase(dbHandle.url);
    const database = connect(dbHandle.url, { max: 1 });
    try {
      let user = await findUserByUsername(database.db, username);
      if (!user) {
        if (password === undefined) {
          process.stderr.write(`No user "${username}". Pass --password to create it.\n`);
          return 1;
        }
        user = { ...(await createUser(database.db, { username, password })), passwordHash: null };
        process.stdout.write(`Created user "${user.username}" (id ${user.id}).\n`);
      } else if (password !== undefined) {
        process.stderr.write(`User "${user.username}" exists; its password was left unchanged.\n`);
      }
      const session = await createSession(database.db, {
        userId: user.id,
        kind: 'api',
        ttlSeconds,
        label: values.label ?? null,
      });
      process.stdout.write(
        `Token for "${user.username}", valid until ${formatInstant(session.expiresAt)} if unused:\n`,
      );
      process.stdout.write(`${session.token}\n`);
      return 0;
    } finally {
      await database.close();
    }
  } finally {
    await dbHandle.stop();
  }
}

run(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`create-token: ${error.message}\n\n${USAGE}\n`);
      process.exit(2);
    }
    if (error instanceof ConfigError || error instanceof AppError) {
      process.stderr.write(`create-token: ${error.message}\n`);
      process.exit(1);
    }
    process.stderr.write(
      `create-token failed: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}\n`,
    );
    process.exit(1);
  },
);
