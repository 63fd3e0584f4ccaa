import postgres from 'postgres';
import net from 'node:net';
process.on('uncaughtException', (e) => { console.log('UNCAUGHT', e.message, e.stack.split('\n')[1]); process.exit(3); });
const sql = postgres('postgres://postgres@127.0.0.1:5432/test', { max: 4, connect_timeout: 3, onnotice: () => {},
  socket: (o) => { const s = net.connect({ host: o.host[0], port: o.port[0] }); s.setNoDelay(true); return s; } });
const admin = postgres('postgres://postgres@127.0.0.1:5432/test', { max: 1 });
const big = 'x'.repeat(2000);
let ok = 0, failed = 0, stop = false; const codes = {};
const loop = async () => { while (!stop) { try { await sql`select ${big}::text as t, pg_sleep(0.001)`; ok++; } catch (e) { failed++; codes[e.code] = (codes[e.code]||0)+1; } } };
const loops = Array.from({ length: 16 }, loop);
const copyLoop = async () => { while (!stop) { try { await sql`create temp table if not exists c (t text)`.catch(()=>{}); const w = await sql`copy c from stdin`.writable(); for (let i=0;i<50;i++) { if (!w.write(big + '\n')) await new Promise(r => w.once('drain', r)); } await new Promise((r, j) => w.end(r)); ok++; } catch (e) { failed++; codes[e.code]=(codes[e.code]||0)+1; } } };
const copies = Array.from({ length: 2 }, copyLoop);
for (let i = 0; i < 40; i++) {
  await new Promise((r) => setTimeout(r, 50));
  await admin`select pg_terminate_backend(pid) from pg_stat_activity where pid <> pg_backend_pid() and datname = 'test' and application_name <> 'psql' and backend_type = 'client backend' and query not like '%pg_stat_activity%'`;
}
console.log("killing done", { ok, failed, codes }); stop = true; await Promise.all([...loops, ...copies]);
const t = Date.now(); await sql`select 1`; console.log('after', Date.now() - t, 'ms', { ok, failed, codes });
await sql.end(); await admin.end();
