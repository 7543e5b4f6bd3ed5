/**
 * After the suite: no test root's mounts, conmon or supervisor processes or Berth cgroups may remain on the host.
 *
 * `leaks.ts --before FILE` records what is already there before the suite starts (an earlier run that was
 * killed leaves its containers behind, and this suite did not make them); `leaks.ts --since FILE` then counts
 * only what is new, and names the older leftovers without failing on them.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { berthCgroups, testBridgeRules } from './integration/helpers.ts';

const problems: string[] = [];
for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
  const mp = line.split(' ')[4];
  if (mp && mp.includes('/berth-test-')) problems.push(`mount ${mp}`);
}
for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (cmd.startsWith('/usr/bin/conmon\0') && cmd.includes('/berth-test-')) problems.push(`conmon pid ${pid}`);
    // A container's log writer (src/logs/writer.ts) ends with its monitor.
    if (cmd.includes('berth-log-writer\0') && cmd.includes('/berth-test-')) problems.push(`berth-log-writer pid ${pid}`);
    // An exec's monitor (src/runtime/exec-monitor.c) ends with its process.
    if (cmd.includes('berth-exec-monitor\0') && cmd.includes('/berth-test-')) problems.push(`berth-exec-monitor pid ${pid}`);
    // A test root's supervisor (src/engine/supervisor.ts) ends by itself once nothing needs it.
    if (cmd.includes('\0supervise\0') && cmd.includes('/berth-test-')) problems.push(`supervisor pid ${pid}`);
    // Registries the image tests start (test/fixtures/registry.ts) must be stopped by them.
    if (cmd.includes('docker-registry\0') && cmd.includes('/berth-registry-')) problems.push(`docker-registry pid ${pid}`);
  } catch {
    /* exited meanwhile */
  }
}
// Network namespaces of containers and bridges of test roots' networks (bd-: a root's default, bn-: a user network).
const netns = existsSync('/run/netns') ? readdirSync('/run/netns') : [];
for (const ns of netns.filter((n) => n.startsWith('berth-'))) problems.push(`netns ${ns}`);
for (const link of readdirSync('/sys/class/net').filter((l) => /^(bd|bn)-[0-9a-f]{12}$/.test(l))) problems.push(`bridge ${link}`);
for (const link of readdirSync('/sys/class/net').filter((l) => l.startsWith('veth'))) problems.push(`veth ${link}`);
problems.push(...testBridgeRules());
const roots = new Set(readdirSync('/tmp').filter((d) => d.startsWith('berth-test-')));
for (const cg of berthCgroups()) problems.push(`cgroup ${cg}`);
if (roots.size > 0) problems.push(...[...roots].map((r) => `test root /tmp/${r}`));
for (const d of readdirSync('/tmp').filter((n) => /^berth-(registry|images-work|images-local|victim|podman)-/.test(n))) problems.push(`test dir /tmp/${d}`);
const [mode, file] = process.argv.slice(2);
if (mode === '--before' && file) {
  writeFileSync(file, JSON.stringify(problems));
  if (problems.length > 0) console.log(`leaks: ${problems.length} left on this host before the suite (not counted):\n${problems.join('\n')}`);
  process.exit(0);
}
const earlier = new Set<string>(mode === '--since' && file && existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : []);
const leftOver = problems.filter((p) => earlier.has(p));
const made = problems.filter((p) => !earlier.has(p));
if (leftOver.length > 0) console.log(`leaks: ${leftOver.length} were there before the suite and are not counted:\n${leftOver.join('\n')}`);
if (made.length > 0) {
  console.error(`leaks: ${made.length} left behind:\n${made.join('\n')}`);
  process.exit(1);
}
console.log('leaks: none (mounts, conmon, log writer, exec monitor and supervisor processes, registries, cgroups, netns, bridges and their rules, veths, test roots and dirs)');
