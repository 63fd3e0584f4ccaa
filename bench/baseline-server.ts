/**
 * The baseline for the API benchmark: bare express + postgres.js doing the
 * same SQL work as our endpoints (session lookup; insert post + tags + event
 * + add_job in one transaction with the per-account limit lock and window
 * read; the same selects), with none of our layers: no tRPC, zod, OpenAPI
 * adapter, error model, helmet or request logs.
 */
import { createHash } from 'node:crypto';
import express from 'express';
import postgres from 'postgres';

const sql = postgres(process.env.DATABASE_URL!, { max: 10, onnotice: () => {} });
const app = express();
app.use(express.json());

async function userOf(req: express.Request): Promise<number | null> {
  const token = /^(?:Token|Bearer)\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
  if (!token) return null;
  const id = createHash('sha256').update(token).digest('hex');
  const [row] =
    await sql`select s.user_id, s.expires_at, u.username from sessions s join users u on u.id = s.user_id where s.id = ${id}`;
  return row && new Date(row.expires_at as string).getTime() > Date.now() ? Number(row.user_id) : null;
}

async function postWithTags(id: number, owner: number) {
  const [post] = await sql`select * from posts where id = ${id} and owner_id = ${owner}`;
  if (!post) return null;
  const tags = await sql`select username, x, y from post_user_tags where post_id = ${id} order by position`;
  return { ...post, user_tags: tags };
}

app.post('/posts', async (req, res) => {
  const owner = await userOf(req);
  if (!owner) return void res.status(401).json({ code: 'UNAUTHORIZED' });
  const b = req.body as Record<string, any>;
  const datePub = b.date_pub ? new Date(b.date_pub as string) : new Date();
  const post = await sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(hashtextextended(${`publish-limit:${b.user_id}`}, 0))`;
    await tx`select coalesce(published_at, date_pub) from posts where ig_user_id = ${b.user_id as string} and status <> 'failed'
             and date_pub > ${new Date(datePub.getTime() - 2 * 86_400_000)} and date_pub < ${new Date(datePub.getTime() + 86_400_000)}`;
    const [row] = await tx`
      insert into posts (owner_id, ig_user_id, content_type, url, caption, token_key_id, token_ciphertext, date_pub)
      values (${owner}, ${b.user_id as string}, ${b.content_type as string}, ${b.url as string}, ${(b.caption as string) ?? null}, 'k', ${b.token as string}, ${datePub})
      returning *`;
    const tags = (b.user_tags as { username: string; x: number; y: number }[] | undefined) ?? [];
    if (tags.length > 0)
      await tx`insert into post_user_tags ${tx(tags.map((t, position) => ({ post_id: row!.id, position, username: t.username, x: t.x, y: t.y })))}`;
    await tx`insert into post_events (post_id, type, message, date_pub) values (${row!.id}, 'created', 'Scheduled.', ${datePub})`;
    await tx`select graphile_worker.add_job('publish_post', json_build_object('postId', ${row!.id}::bigint),
             run_at := ${datePub}, job_key := ${`post:${row!.id}`}, job_key_mode := 'replace', max_attempts := 25)`;
    return { ...row, user_tags: tags };
  });
  res.status(201).json(post);
});

app.get('/posts/:id', async (req, res) => {
  const owner = await userOf(req);
  if (!owner) return void res.status(401).json({ code: 'UNAUTHORIZED' });
  const post = await postWithTags(Number(req.params.id), owner);
  if (!post) return void res.status(404).json({ code: 'POST_NOT_FOUND' });
  res.json(post);
});

app.get('/posts', async (req, res) => {
  const owner = await userOf(req);
  if (!owner) return void res.status(401).json({ code: 'UNAUTHORIZED' });
  const limit = Number(req.query.limit ?? 50);
  const rows = await sql`select * from posts where owner_id = ${owner} order by id desc limit ${limit + 1}`;
  const page = rows.slice(0, limit);
  const ids = page.map((r) => Number(r.id));
  const tags = ids.length
    ? await sql`select post_id, username, x, y from post_user_tags where post_id = any(${sql.array(ids)}::bigint[]) order by post_id, position`
    : [];
  res.json({
    items: page.map((p) => ({ ...p, user_tags: tags.filter((t) => t.post_id === p.id) })),
    next_cursor: rows.length > limit ? String(page.at(-1)!.id) : null,
  });
});

const server = app.listen(Number(process.env.PORT), '127.0.0.1', () => {
  process.stdout.write('baseline listening\n');
});
process.on('SIGTERM', () => {
  server.close();
  void sql.end({ timeout: 2 }).then(() => process.exit(0));
});
