// W1 through Node's `mariadb` driver: a peer for amy_bench (bench/node.c
// starts it; never run by the library, its build or its tests).
//
//   AMY_BENCH_NODE_DSN=mysql://user:pass@host:port/db node w1.js \
//       --sql FILE --warm N --conns C
//   node w1.js --version            the driver's version and node's, then exit
//
// FILE holds the statements, one a line: the same ones amy_bench gives its
// C clients. The first N are run first, untimed, as the warm-up (amysql's
// is the first tenth of the same list). --conns 1: one connection with the
// driver's default pipelining; more: mariadb.createPool with that
// connectionLimit (the pool runs one query at a time on each connection).
//
// Protocol on stdin/stdout, one line each:
//   -> READY {"version":..,"conns":..,"setup":s}  connected and warmed up
//   <- GO                                          amy_bench read the server's CPU
//   -> {"wall":s,"user_us":..,"sys_us":..,"failed":..,"n":..}
//   <- (end of input)                              amy_bench read it again
// then the connections are closed and the process exits: closing stays out
// of the server's timed CPU as well.
import fs from 'node:fs';
import readline from 'node:readline';
import mariadb from 'mariadb';

function die(msg) {
  process.stderr.write(`node w1: ${msg}\n`);
  process.exit(1);
}

const args = process.argv.slice(2);
if (args[0] === '--version') {
  process.stdout.write(`${mariadb.version} ${process.version}\n`);
  process.exit(0);
}
const opt = {};
for (let i = 0; i + 1 < args.length; i += 2) {
  if (!args[i].startsWith('--')) die(`unexpected argument ${args[i]}`);
  opt[args[i].slice(2)] = args[i + 1];
}
if (!opt.sql || !opt.conns) die('usage: w1.js --sql FILE --warm N --conns C');
const conns = Number(opt.conns);
const warmN = Number(opt.warm || 0);
if (!(conns >= 1) || !(warmN >= 0)) die('--conns must be >= 1, --warm >= 0');

// The DSN as amysql reads it (README "DSN"): mysql://user:pass@host:port/db
// ?key=value; user, password and database percent-decoded. Only the keys
// that say where to connect matter here; W1 is plaintext.
function connOptions(dsn) {
  let u;
  try {
    u = new URL(dsn);
  } catch (e) {
    die(`bad DSN: ${e.message}`);
  }
  if (u.protocol !== 'mysql:' && u.protocol !== 'mariadb:') die('DSN: expected mysql://');
  const q = u.searchParams;
  const mode = q.get('ssl_mode');
  if (mode && mode !== 'disabled') die(`DSN ssl_mode=${mode}: the Node peer runs plaintext only`);
  const o = {
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    database: decodeURIComponent(u.pathname.replace(/^\//, '')) || undefined,
    charset: q.get('charset') || 'utf8mb4',
    ssl: false,
  };
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  if (q.get('socket')) o.socketPath = q.get('socket');
  else if (host === 'localhost' || !host) die('DSN: localhost means the Unix socket: give socket= or 127.0.0.1');
  else {
    o.host = host;
    o.port = u.port ? Number(u.port) : 3306;
  }
  return o;
}

const dsn = process.env.AMY_BENCH_NODE_DSN;
if (!dsn) die('AMY_BENCH_NODE_DSN is not set');
const sql = fs.readFileSync(opt.sql, 'utf8').split('\n').filter((s) => s.length);
if (warmN > sql.length) die('--warm is larger than the statement list');
const warm = sql.slice(0, warmN);

// One answer as the C clients check it: one row, c not NULL.
function bad(r) {
  return r.status !== 'fulfilled' || r.value.length !== 1 || r.value[0].c == null;
}

async function batch(q, list) {
  const settled = await Promise.allSettled(list.map((s) => q.query(s)));
  let failed = 0;
  for (const r of settled) if (bad(r)) failed++;
  return { failed, first: settled.find((r) => r.status === 'rejected') };
}

// stdin's lines, kept until asked for: GO may arrive before it is awaited.
const lines = readline.createInterface({ input: process.stdin });
const queued = [];
let waiter = null;
let ended = false;
const wake = () => {
  if (waiter && (queued.length || ended)) {
    const w = waiter;
    waiter = null;
    w(queued.length ? queued.shift() : null);
  }
};
lines.on('line', (l) => {
  queued.push(l);
  wake();
});
lines.on('close', () => {
  ended = true;
  wake();
});
const nextLine = () =>
  new Promise((resolve) => {
    waiter = resolve;
    wake();
  });

async function main() {
  const t0 = process.hrtime.bigint();
  const co = connOptions(dsn);
  let q, close, open;
  if (conns === 1) {
    const conn = await mariadb.createConnection(co); // pipelining: its default
    q = conn;
    close = () => conn.end();
    open = () => 1;
  } else {
    const pool = mariadb.createPool({ ...co, connectionLimit: conns });
    // Every connection open before the timed region: take them all at
    // once, then give them back.
    const held = await Promise.all(Array.from({ length: conns }, () => pool.getConnection()));
    for (const c of held) await c.release();
    q = pool;
    close = () => pool.end();
    open = () => pool.totalConnections();
  }
  if (warm.length) {
    const w = await batch(q, warm);
    if (w.failed) process.stderr.write(`node w1: warm-up: ${w.failed} failed\n`);
  }
  const setup = Number(process.hrtime.bigint() - t0) / 1e9;
  process.stdout.write(`READY ${JSON.stringify({ version: mariadb.version, conns: open(), setup })}\n`);
  const go = await nextLine();
  if (go !== 'GO') die(`expected GO, got ${go}`);

  const c0 = process.cpuUsage();
  const w0 = process.hrtime.bigint();
  const r = await batch(q, sql);
  const w1 = process.hrtime.bigint();
  const c1 = process.cpuUsage(c0);

  if (r.first) process.stderr.write(`node w1: ${r.first.reason && r.first.reason.message}\n`);
  process.stdout.write(
    `${JSON.stringify({
      wall: Number(w1 - w0) / 1e9,
      user_us: c1.user,
      sys_us: c1.system,
      failed: r.failed,
      n: sql.length,
      conns: open(),
    })}\n`
  );
  while ((await nextLine()) !== null);
  // A connection the server dropped may refuse to end cleanly; the
  // figures are out already.
  await close().catch(() => {});
}

main().catch((e) => die(e && e.message ? e.message : String(e)));
