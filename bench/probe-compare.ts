// Isolation side by side: the probe (test/fixtures/probe.c) under `berth run --rm` (the berth on PATH,
// with a private engine root) and, when a dockerd answers, under `docker run --rm`, both on the busybox
// rootfs scripts/mkimage-busybox builds, the probe bound read-only at /probe.
//
//   node bench/probe-compare.ts [-- RUN-FLAGS...]      e.g. node bench/probe-compare.ts -- --privileged
//
// RUN-FLAGS go to both `run` commands. Prints NAME | berth | docker and exits 1 if any attempt is
// ALLOWED under berth but BLOCKED under docker, 2 if setup fails, else 0 (also when there is no
// dockerd: then only the berth column is shown). Run with the project's Node 24 (type stripping only).

import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

const REPO = resolve(import.meta.dirname, '..');

interface Verdict {
  verdict: string;
  /** The errno or reason, short: "EPERM", "(EINVAL)", "masked"; empty for a plain ALLOWED. */
  why: string;
}

function sh(argv: string[], timeout = 120_000): SpawnSyncReturns<string> {
  return spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout, maxBuffer: 16 << 20 });
}

class SetupFailure extends Error {}

function fail(msg: string): never {
  throw new SetupFailure(msg);
}

/** Linux's dev_t split (12 bits of major, 20 of minor around the low byte). */
function majorMinor(dev: number): string {
  return `${Math.floor(dev / 256) & 0xfff}:${(dev & 0xff) | (Math.floor(dev / 4096) & 0xfff00)}`;
}

/** The host's root disk, or /dev/loop0 where the host refuses even root a raw open of it. */
function blockDevice(): string {
  const root = majorMinor(statSync('/').dev);
  const name = /^DEVNAME=(.+)$/m.exec(readFileSync(`/sys/dev/block/${root}/uevent`, 'utf8'))?.[1];
  try {
    closeSync(openSync(`/dev/${name}`, 'r'));
    return root;
  } catch {
    return majorMinor(statSync('/dev/loop0').rdev);
  }
}

function parse(stdout: string): Map<string, Verdict> {
  const out = new Map<string, Verdict>();
  for (const line of stdout.split('\n')) {
    const m = /^(\S+) (ALLOWED|BLOCKED|ERROR)(?: (.*))?$/.exec(line);
    if (!m) continue;
    const detail = m[3] ?? '';
    const errno = /^\((E[A-Z0-9]+)[:)]/.exec(detail)?.[1];
    // BLOCKED names its errno (or "masked") first; ALLOWED may name, in parentheses, why the call failed.
    const why = errno ? `(${errno})` : m[2] === 'BLOCKED' ? (detail.split(' ')[0] ?? '') : '';
    out.set(m[1]!, { verdict: m[2]!, why });
  }
  return out;
}

function cell(v: Verdict | undefined): string {
  return v ? `${v.verdict} ${v.why}`.trim() : '-';
}

/** The docker server's version, or undefined when no dockerd answers. */
function dockerVersion(): string | undefined {
  if (sh(['sh', '-c', 'command -v docker']).status !== 0) return undefined;
  const r = sh(['docker', 'version', '--format', '{{.Server.Version}}'], 20_000);
  return r.status === 0 && r.stdout.trim() ? r.stdout.trim() : undefined;
}

function main(): number {
  const dash = process.argv.indexOf('--');
  const extra = process.argv.slice(2);
  if ((dash < 0 && extra.length > 0) || extra.includes('-h') || extra.includes('--help')) {
    process.stderr.write('usage: node bench/probe-compare.ts [-- RUN-FLAGS...]\n');
    return extra.includes('-h') || extra.includes('--help') ? 0 : 2;
  }
  const flags = dash < 0 ? [] : process.argv.slice(dash + 1);
  const tmp = mkdtempSync('/tmp/berth-probe-compare-');
  const berthRoot = join(tmp, 'berth-root');
  let dockerImage: string | undefined;
  let importedDockerImage = false;
  try {
    const cc = sh(['gcc', '-static', '-O2', '-o', join(tmp, 'probe'), join(REPO, 'test', 'fixtures', 'probe.c')]);
    if (cc.status !== 0) fail(`gcc: ${cc.error?.message ?? cc.stderr}`);
    const tar = join(tmp, 'busybox.tar');
    const mk = sh(['bash', join(REPO, 'scripts', 'mkimage-busybox'), tar]);
    if (mk.status !== 0) fail(`mkimage-busybox: ${mk.stderr}`);
    const probeArgs = ['-v', `${tmp}:/probe:ro`];
    const probeCmd = ['/probe/probe', '--blk', blockDevice()];

    const imp = sh(['berth', '--root', berthRoot, 'import', '--change', 'CMD ["sh"]', tar, 'busybox:latest']);
    if (imp.status !== 0) fail(`berth import: ${imp.error?.message ?? imp.stderr}`);
    const b = sh(['berth', '--root', berthRoot, 'run', '--rm', ...flags, ...probeArgs, 'busybox', ...probeCmd]);
    if (b.status !== 0) fail(`berth run: exit ${b.status}\n${b.stderr}`);
    const berth = parse(b.stdout);

    const version = dockerVersion();
    let docker: Map<string, Verdict> | undefined;
    if (version) {
      if (sh(['docker', 'image', 'inspect', 'busybox:latest']).status === 0) dockerImage = 'busybox:latest';
      else {
        dockerImage = 'berth-probe-busybox:latest';
        const di = sh(['docker', 'import', '--change', 'CMD ["sh"]', tar, dockerImage]);
        if (di.status !== 0) fail(`docker import: ${di.stderr}`);
        importedDockerImage = true;
      }
      const d = sh(['docker', 'run', '--rm', ...flags, ...probeArgs, dockerImage, ...probeCmd]);
      if (d.status !== 0) fail(`docker run: exit ${d.status}\n${d.stderr}`);
      docker = parse(d.stdout);
    }

    const names = [...new Set([...berth.keys(), ...(docker?.keys() ?? [])])];
    const rows = [
      ['NAME', 'berth', docker ? `docker ${version}` : 'docker'],
      ...names.map((n) => [n, cell(berth.get(n)), docker ? cell(docker.get(n)) : '']),
    ];
    const width = [0, 1].map((i) => Math.max(...rows.map((r) => r[i]!.length)));
    console.log(`flags: ${flags.length > 0 ? flags.join(' ') : '(none)'}`);
    for (const r of rows) console.log(`${r[0]!.padEnd(width[0]!)} | ${r[1]!.padEnd(width[1]!)} | ${r[2]}`.trimEnd());
    if (!docker) {
      console.log('docker: not available (no dockerd answered), comparison skipped');
      return 0;
    }
    const looser = names.filter((n) => berth.get(n)?.verdict === 'ALLOWED' && docker.get(n)?.verdict === 'BLOCKED');
    if (looser.length > 0) {
      console.log(`berth allows what docker blocks: ${looser.join(', ')}`);
      return 1;
    }
    console.log('berth blocks everything docker blocks');
    return 0;
  } finally {
    if (importedDockerImage && dockerImage) sh(['docker', 'rmi', dockerImage]);
    const ids = sh(['berth', '--root', berthRoot, 'ps', '-aq']).stdout?.split('\n').filter(Boolean) ?? [];
    if (ids.length > 0) sh(['berth', '--root', berthRoot, 'rm', '-f', ...ids]);
    rmSync(tmp, { recursive: true, force: true });
  }
}

try {
  process.exitCode = main();
} catch (e) {
  if (!(e instanceof SetupFailure)) throw e;
  process.stderr.write(`probe-compare: ${e.message}\n`);
  process.exitCode = 2;
}
