// The floor of a Node CLI: the least a Node 24 command can do on a path a bench times, beside which Berth's own
// cost is read. Plain JavaScript, so Node loads nothing but this file and the built-ins each mode names (an ES
// module, as Berth's CLI is, so it pays the same loader).
//
//   node bench/node-floor.mjs spawn PROGRAM [ARG]...   run PROGRAM with this process's stdio; exit with its status
//                                                      (exec-bench, run-bench: the runtime's exec or run)
//   node bench/node-floor.mjs ps ROOT                  print one line per container of ROOT's store: id, image,
//                                                      command, created, state, name (ps-bench)
//   node bench/node-floor.mjs rss                      load node:sqlite and node:child_process, open a database,
//                                                      spawn /bin/true with piped output and wait (memory-bench)
import { spawn } from 'node:child_process';

const [mode, ...rest] = process.argv.slice(2);

if (mode === 'spawn') {
  const child = spawn(rest[0], rest.slice(1), { stdio: 'inherit' });
  child.on('exit', (code, signal) => {
    process.exitCode = code ?? (signal ? 128 : 1);
  });
} else if (mode === 'ps') {
  const { DatabaseSync } = await import('node:sqlite');
  const db = new DatabaseSync(`${rest[0]}/berth.db`);
  const rows = db
    .prepare("SELECT id, name, state, created_at, json_extract(config, '$.image', '$.args') AS l FROM containers ORDER BY created_at DESC")
    .all();
  let out = 'CONTAINER ID   IMAGE   COMMAND   CREATED   STATUS   NAMES\n';
  for (const r of rows) {
    const [image, args] = JSON.parse(r.l);
    out += `${r.id.slice(0, 12)}   ${image}   "${(args ?? []).join(' ')}"   ${r.created_at}   ${r.state}   ${r.name}\n`;
  }
  process.stdout.write(out);
  db.close();
} else if (mode === 'rss') {
  const { DatabaseSync } = await import('node:sqlite');
  const db = new DatabaseSync(':memory:');
  db.exec('CREATE TABLE t (x)');
  const child = spawn('/bin/true', [], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.on('exit', () => db.close());
} else {
  process.stderr.write('usage: node bench/node-floor.mjs spawn PROGRAM [ARG]... | ps ROOT | rss\n');
  process.exitCode = 2;
}
