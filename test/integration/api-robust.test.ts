/**
 * `berth serve` under abuse: 1,000 malformed or unknown requests (garbage bytes, broken request lines and
 * chunking, oversized headers, bad versions, bad JSON, bad filters and query values, unknown routes,
 * methods and objects) each get a proper HTTP error with docker's JSON body, and the server keeps serving;
 * 50 concurrent clients listing containers and pinging all get correct answers; pipelined requests on one
 * connection are answered in order. The thread that parses requests runs above what the server starts
 * (containers and their monitors keep the server's own priority), and the server takes its containers'
 * exits itself.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Agent, request as httpRequest } from 'node:http';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { call, startApiServer, type ApiServer } from './api-server.ts';
import { eventually } from './helpers.ts';

let api: ApiServer;
let sock = '';

before(async () => {
  api = await startApiServer('api-robust');
  sock = api.sock;
});

after(async () => {
  await api?.stop();
});

interface RawReply {
  status: number;
  head: string;
  body: string;
}

/** Send raw bytes on a fresh connection; read the reply until the server closes (or `ms` pass). */
function raw(bytes: Buffer | string, opts: { endAfterWrite?: boolean; ms?: number; untilClose?: boolean } = {}): Promise<RawReply | null> {
  return new Promise((resolve) => {
    const s = connect(sock);
    const chunks: Buffer[] = [];
    let settled = false;
    const done = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      s.destroy();
      const all = Buffer.concat(chunks).toString('latin1');
      if (all === '') return resolve(null);
      const i = all.indexOf('\r\n\r\n');
      const head = i < 0 ? all : all.slice(0, i);
      const m = /^HTTP\/1\.1 (\d{3}) /.exec(head);
      resolve({ status: m ? Number(m[1]) : -1, head, body: i < 0 ? '' : all.slice(i + 4) });
    };
    const timer = setTimeout(done, opts.ms ?? 10_000);
    s.on('data', (b: Buffer) => {
      chunks.push(b);
      // A complete reply with a Content-Length: no need to wait for the close.
      const all = Buffer.concat(chunks).toString('latin1');
      const i = all.indexOf('\r\n\r\n');
      const len = /\r\ncontent-length: (\d+)/i.exec(all.slice(0, i + 2));
      if (!opts.untilClose && i >= 0 && len && Buffer.byteLength(all.slice(i + 4), 'latin1') >= Number(len[1])) done();
    });
    s.on('end', done);
    s.on('close', done);
    s.on('error', done);
    s.write(bytes, () => {
      if (opts.endAfterWrite) s.end();
    });
  });
}

const req = (method: string, path: string, body?: string, extra = '') =>
  `${method} ${path} HTTP/1.1\r\nHost: api\r\nConnection: close\r\n${extra}` +
  (body !== undefined ? `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}` : '\r\n');

interface Case {
  what: string;
  bytes: string | Buffer;
  /** Acceptable statuses; null: the server may also just close (an aborted request). */
  want: number[] | null;
  endAfterWrite?: boolean;
}

/** The i-th malformed or unknown request. */
function malformed(i: number): Case {
  const junk = randomBytes(8 + (i % 50)).toString('hex');
  const enc = encodeURIComponent;
  const cases: (() => Case)[] = [
    () => ({ what: 'random bytes', bytes: Buffer.concat([randomBytes(32 + (i % 200)), Buffer.from('\r\n\r\n')]), want: [400] }),
    () => ({ what: 'bad protocol in request line', bytes: `GET /_ping HTTQ/1.1\r\n\r\n`, want: [400] }),
    () => ({ what: 'bad header line', bytes: `GET /_ping HTTP/1.1\r\nthis is not a header\r\n\r\n`, want: [400] }),
    () => ({ what: 'bad chunk size', bytes: `POST /containers/create HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`, want: [400] }),
    () => ({ what: 'unknown route', bytes: req('GET', `/v1.51/nope/${junk}`), want: [404] }),
    () => ({ what: 'unknown method', bytes: req('PATCH', '/containers/json'), want: [404] }),
    () => ({ what: 'DELETE on a list', bytes: req('DELETE', '/networks'), want: [404] }),
    () => ({ what: 'bad JSON body', bytes: req('POST', '/containers/create', `{"Image": ${junk}`), want: [400] }),
    () => ({ what: 'JSON array body', bytes: req('POST', '/networks/create', '[1,2,3]'), want: [400] }),
    () => ({ what: 'JSON null body', bytes: req('POST', '/volumes/create', 'null'), want: [400] }),
    () => ({ what: 'wrong body types', bytes: req('POST', '/containers/create', JSON.stringify({ Image: 5, Cmd: { a: 1 } })), want: [400, 404] }),
    () => ({ what: 'bad filters JSON', bytes: req('GET', `/containers/json?filters=${enc(`{${junk}`)}`), want: [400] }),
    () => ({ what: 'unknown network filter', bytes: req('GET', `/networks?filters=${enc(`{"x${junk}":["y"]}`)}`), want: [400] }),
    () => ({ what: 'unknown volume filter', bytes: req('GET', `/volumes?filters=${enc('{"color":["red"]}')}`), want: [400] }),
    () => ({ what: 'version too new', bytes: req('GET', `/v9.${i}/info`), want: [400] }),
    () => ({ what: 'version too old', bytes: req('GET', '/v1.0/_ping'), want: [400] }),
    () => ({ what: 'bad percent encoding', bytes: req('GET', '/containers/%zz%/json'), want: [404] }),
    () => ({ what: 'unknown container', bytes: req('POST', `/containers/${junk}/start`), want: [404] }),
    () => ({ what: 'unknown container stats', bytes: req('GET', `/containers/${junk}/stats?stream=0`), want: [404] }),
    () => ({ what: 'unknown container archive', bytes: req('HEAD', `/containers/${junk}/archive?path=/`), want: [404] }),
    () => ({ what: 'unknown exec', bytes: req('POST', `/exec/${junk}/start`, '{}'), want: [404] }),
    () => ({ what: 'unknown image', bytes: req('GET', `/images/${junk}/history`), want: [404] }),
    () => ({ what: 'unknown network', bytes: req('GET', `/networks/${junk}`), want: [404] }),
    () => ({ what: 'unknown volume', bytes: req('DELETE', `/volumes/${junk}`), want: [404] }),
    () => ({ what: 'bad integer', bytes: req('GET', `/containers/json?limit=${junk}x`), want: [400] }),
    () => ({ what: 'save of nothing', bytes: req('GET', '/images/get'), want: [400] }),
    () => ({ what: 'load of garbage', bytes: req('POST', '/images/load', junk), want: [400] }),
    // As dockerd outside a swarm with no plugins: overlay needs a swarm, other drivers are plugins not found.
    () => ({ what: 'swarm network driver', bytes: req('POST', '/networks/create', JSON.stringify({ Name: `n${i}`, Driver: 'overlay' })), want: [503] }),
    () => ({ what: 'unknown network driver', bytes: req('POST', '/networks/create', JSON.stringify({ Name: `n${i}`, Driver: 'macvlan2' })), want: [404] }),
    () => ({ what: 'unknown volume driver', bytes: req('POST', '/volumes/create', JSON.stringify({ Name: `v${i}`, Driver: 'nfs' })), want: [404] }),
    () => ({ what: 'pull without a name', bytes: req('POST', '/images/create'), want: [400] }),
    () => ({ what: 'bad reference', bytes: req('POST', `/images/create?fromImage=${enc('UPPER/Case::x')}`), want: [400] }),
    // (a junk of 64 hex digits is refused as a reference before anything is looked up: 400)
    () => ({ what: 'bad X-Registry-Auth', bytes: req('POST', `/images/${junk}/push`, undefined, `X-Registry-Auth: ${junk}!!\r\n`), want: junk.length === 64 ? [400] : [404] }),
    () => ({ what: 'login without credentials', bytes: req('POST', '/auth', '{}'), want: [400] }),
    () => ({ what: 'oversized header', bytes: `GET /_ping HTTP/1.1\r\nHost: a\r\nX-Big: ${'a'.repeat((1 << 20) + 10)}\r\n\r\n`, want: [400, 431] }),
    () => ({ what: 'truncated body', bytes: `POST /containers/create HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{"Image":`, want: null, endAfterWrite: true }),
  ];
  return cases[i % cases.length]!();
}

test('1,000 malformed or unknown requests: each answered with an error, the server keeps serving', async () => {
  const failures: string[] = [];
  const counts = new Map<string, number>();
  for (let start = 0; start < 1000; start += 25) {
    await Promise.all(
      Array.from({ length: 25 }, async (_, k) => {
        const i = start + k;
        const c = malformed(i);
        counts.set(c.what, (counts.get(c.what) ?? 0) + 1);
        const r = await raw(c.bytes, { endAfterWrite: c.endAfterWrite });
        if (c.want === null) {
          if (r && !(r.status >= 400 && r.status < 500)) failures.push(`#${i} ${c.what}: ${r.head}`);
          return;
        }
        if (!r) return void failures.push(`#${i} ${c.what}: no reply`);
        if (!c.want.includes(r.status)) return void failures.push(`#${i} ${c.what}: status ${r.status}, want ${c.want.join('|')}: ${r.head} ${r.body.slice(0, 200)}`);
        if (!/\r\ncontent-type: application\/json/i.test(r.head)) return void failures.push(`#${i} ${c.what}: not JSON: ${r.head}`);
        if (c.bytes.slice(0, 4).toString() !== 'HEAD') {
          try {
            const m = (JSON.parse(r.body) as { message?: unknown }).message;
            if (typeof m !== 'string' || m === '') failures.push(`#${i} ${c.what}: no message: ${r.body}`);
          } catch {
            failures.push(`#${i} ${c.what}: body not JSON: ${r.body.slice(0, 200)}`);
          }
        }
      }),
    );
  }
  assert.deepEqual(failures, []);
  assert.equal([...counts.values()].reduce((a, b) => a + b, 0), 1000);
  // Still serving, and no request crashed anything inside it.
  const ping = await raw(req('GET', '/_ping'));
  assert.equal(ping?.status, 200);
  assert.equal(ping?.body, 'OK');
  assert.ok(api.alive(), 'the server is still running');
  assert.doesNotMatch(api.log(), /berth serve: |unhandled|TypeError|ReferenceError/, api.log().slice(-5000));
});

test('pipelined requests on one connection are answered in order, an error among them included', async () => {
  const r = await raw(
    'GET /_ping HTTP/1.1\r\nHost: a\r\n\r\n' +
      'GET /nope HTTP/1.1\r\nHost: a\r\n\r\n' +
      'GET /containers/json?filters=%7B HTTP/1.1\r\nHost: a\r\n\r\n' +
      'GET /v1.51/version HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n',
    { ms: 10_000, untilClose: true },
  );
  assert.ok(r);
  const all = `${r.head}\r\n\r\n${r.body}`;
  const statuses = [...all.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
  assert.deepEqual(statuses, [200, 404, 400, 200]);
  assert.match(all, /"ApiVersion":"1\.51"/);
});

function get(agent: Agent, path: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const r = httpRequest({ socketPath: sock, path, agent }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      res.on('error', reject);
    });
    r.on('error', reject);
    r.end();
  });
}

test('50 concurrent clients listing containers and pinging all get correct answers', async () => {
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    const c = await new Promise<string>((resolve, reject) => {
      const body = JSON.stringify({ Image: 'busybox', Cmd: ['true'], HostConfig: { NetworkMode: 'none' }, Labels: { 'api.robust': String(i) } });
      const r = httpRequest({ socketPath: sock, method: 'POST', path: `/containers/create?name=api-robust-${i}`, headers: { 'Content-Type': 'application/json' } }, (res) => {
        let t = '';
        res.on('data', (b: Buffer) => (t += b.toString()));
        res.on('end', () => (res.statusCode === 201 ? resolve((JSON.parse(t) as { Id: string }).Id) : reject(new Error(t))));
      });
      r.on('error', reject);
      r.end(body);
    });
    ids.push(c);
  }
  try {
    const errors: string[] = [];
    let served = 0;
    const started = Date.now();
    await Promise.all(
      Array.from({ length: 50 }, async (_, client) => {
        // Each client its own keep-alive connection, as separate processes would have.
        const agent = new Agent({ keepAlive: true, maxSockets: 1 });
        try {
          for (let n = 0; n < 10; n++) {
            const [ping, list] = await Promise.all([get(agent, '/_ping'), get(agent, '/v1.51/containers/json?all=1')]);
            if (ping.status !== 200 || ping.text !== 'OK') errors.push(`client ${client}: ping ${ping.status} ${ping.text}`);
            if (list.status !== 200) errors.push(`client ${client}: list ${list.status} ${list.text}`);
            else {
              const got = (JSON.parse(list.text) as { Id: string; Names: string[] }[]).map((c) => c.Id).sort();
              if (JSON.stringify(got) !== JSON.stringify([...ids].sort())) errors.push(`client ${client}: list ${list.text.slice(0, 200)}`);
            }
            served += 2;
          }
        } finally {
          agent.destroy();
        }
      }),
    );
    assert.deepEqual(errors, []);
    assert.equal(served, 1000);
    process.stderr.write(`# 1000 requests from 50 concurrent clients in ${Date.now() - started} ms\n`);
  } finally {
    for (const id of ids) {
      await new Promise<void>((resolve) => {
        const r = httpRequest({ socketPath: sock, method: 'DELETE', path: `/containers/${id}?force=1` }, (res) => {
          res.resume();
          res.on('end', () => resolve());
        });
        r.on('error', () => resolve());
        r.end();
      });
    }
  }
  assert.equal((await raw(req('GET', '/_ping')))?.status, 200);
  assert.ok(api.alive(), 'the server is still running');
  assert.doesNotMatch(api.log(), /berth serve: |unhandled|TypeError|ReferenceError/, api.log().slice(-5000));
});

/** The nice value of a thread (a process's main thread when tid is its pid). */
const niceOf = (pid: number, tid = pid) => {
  const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
};

test('requests are parsed above the priority of what the server starts; it takes its containers\' exits', async () => {
  const ownNice = niceOf(process.pid);
  assert.equal(niceOf(api.pid), Math.max(-20, ownNice - 20), 'the request thread runs 20 steps up, as far as Linux goes');
  const created = await call(sock, 'POST', '/containers/create', { Image: 'busybox', Cmd: ['sh', '-c', 'sleep 1; exit 7'], HostConfig: { NetworkMode: 'none' } });
  assert.equal(created.status, 201, created.text);
  const id = (JSON.parse(created.text) as { Id: string }).Id;
  assert.equal((await call(sock, 'POST', `/containers/${id}/start`)).status, 204);
  const state = JSON.parse((await call(sock, 'GET', `/containers/${id}/json`)).text) as { State: { Pid: number } };
  assert.ok(state.State.Pid > 0);
  assert.equal(niceOf(state.State.Pid), ownNice, 'the container runs at the server\'s own priority');
  const monitor = Number(readFileSync(join(api.env.root, 'containers', id, 'conmon.pid'), 'utf8'));
  assert.equal(niceOf(monitor), ownNice, 'so does its monitor');
  // The server holds the exit-watch lock: the exit command hands the exit over (flock exits 75 on a conflict).
  const probe = spawnSync('flock', ['-n', '-s', '-E', '75', join(api.env.root, 'exit-watch.lock'), 'true']);
  assert.equal(probe.status, 75);
  const mounted = () => readFileSync('/proc/self/mountinfo', 'utf8').includes(join(api.env.root, 'containers', id));
  assert.ok(await eventually(() => !mounted() || undefined, 15_000), 'cleaned up in time');
  const after = JSON.parse((await call(sock, 'GET', `/containers/${id}/json`)).text) as { State: { Status: string; ExitCode: number } };
  assert.deepEqual([after.State.Status, after.State.ExitCode], ['exited', 7]);
  assert.deepEqual(readdirSync(join(api.env.root, 'exits')), []);
  assert.equal((await call(sock, 'DELETE', `/containers/${id}`)).status, 204);
});
