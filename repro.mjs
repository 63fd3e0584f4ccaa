import net from 'node:net';
import postgres from 'postgres';
let sock;
const sql = postgres('postgres://postgres@127.0.0.1:5432/test', {
  max: 1, connect_timeout: 3,
  socket: (o) => { sock = net.connect({ host: o.host[0], port: o.port[0] }); return sock; },
});
await sql`select 1`;
const first = await new Promise((resolve) => setImmediate(() => {
  sock.destroy();
  sql`select ${'x'.repeat(3000)}::text`.then(() => 'first ok', (e) => 'first failed: ' + e.code).then(resolve);
}));
console.log(first);
const t = Date.now();
try { await sql`select 3 as x`; console.log('second ok', Date.now() - t, 'ms'); } catch (e) { console.log('second failed', e.code, Date.now() - t, 'ms'); }
await sql.end();
