import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  index,
  integer,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';

const instant = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

export const users = pgTable(
  'users',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    username: text('username').notNull(),
    passwordHash: text('password_hash'),
    createdAt: instant('created_at').notNull().defaultNow(),
    updatedAt: instant('updated_at').notNull().defaultNow(),
  },
  // Usernames are e-mail-like; "Ann@x.com" and "ann@x.com" are one person.
  (t) => [uniqueIndex('users_username_lower_idx').on(sql`lower(${t.username})`)],
);

export const sessions = pgTable(
  'sessions',
  {
    /** SHA-256 of the token, hex. The token itself is never stored. */
    id: text('id').primaryKey(),
    userId: bigint('user_id', { mode: 'number' })
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    /** `login` from the API, `api` from the CLI. */
    kind: text('kind', { enum: ['login', 'api'] }).notNull(),
    label: text('label'),
    /** Each use renews expiry to now + ttl once less than half of it is left. */
    ttlSeconds: integer('ttl_seconds').notNull(),
    expiresAt: instant('expires_at').notNull(),
    createdAt: instant('created_at').notNull().defaultNow(),
  },
  (t) => [index('sessions_user_id_idx').on(t.userId), index('sessions_expires_at_idx').on(t.expiresAt)],
);

/** Failed logins per key (`user:<name>` or `ip:<addr>`) in the current window. */
export const loginFailures = pgTable(
  'login_failures',
  {
    key: text('key').notNull(),
    failures: integer('failures').notNull(),
    windowStartedAt: instant('window_started_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.key] })],
);
