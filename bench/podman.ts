// A private podman for the benches' podman baselines: every store podman keeps (root, runroot, tmpdir,
// network config, volumes, events) under one mkdtemp dir in /tmp, so the host's podman store is never read
// or written; cgroupfs, overlay, and the OCI runtime Berth uses here. Its containers must ask for rlimits
// the host allows (`podmanUlimits`): podman's defaults exceed this host's hard limits and root here lacks
// CAP_SYS_RESOURCE to raise them. `stop` removes its containers, images, mounts and the dir.

import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { mountsUnder } from './dockerd.ts';

export interface PrivatePodman {
  dir: string;
  /** `podman` with the private store's flags: append a subcommand. */
  argv: string[];
  /** Remove everything it made; returns what could not be. */
  stop(): string[];
}

export function startPodman(prefix: string, runtime: string): PrivatePodman {
  const dir = mkdtempSync(prefix);
  for (const sub of ['root', 'runroot', 'tmp', 'net', 'volumes']) mkdirSync(join(dir, sub));
  const argv = [
    'podman', '--root', join(dir, 'root'), '--runroot', join(dir, 'runroot'), '--tmpdir', join(dir, 'tmp'),
    '--network-config-dir', join(dir, 'net'), '--volumepath', join(dir, 'volumes'),
    '--events-backend', 'file', '--cgroup-manager', 'cgroupfs', '--storage-driver', 'overlay', '--runtime', runtime,
  ];
  const quiet = (a: string[]) => spawnSync(a[0]!, a.slice(1), { stdio: 'ignore', timeout: 60_000 }).status;
  return {
    dir,
    argv,
    stop() {
      const left: string[] = [];
      quiet([...argv, 'rm', '-f', '-t', '0', '-a']);
      quiet([...argv, 'rmi', '-a', '-f']);
      for (let round = 0; round < 3; round++) {
        const mounts = mountsUnder(dir).sort((x, y) => y.length - x.length);
        if (!mounts.length) break;
        for (const m of mounts) if (quiet(['umount', m]) !== 0) quiet(['umount', '-l', m]);
      }
      const still = mountsUnder(dir);
      if (still.length) left.push(`podman: STILL MOUNTED: ${still.join(' ')}`);
      else rmSync(dir, { recursive: true, force: true });
      return left;
    },
  };
}

function hostLimit(label: string): number | undefined {
  const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith(label));
  const v = line?.slice(label.length).trim().split(/\s+/)[0];
  return v && v !== 'unlimited' ? Number(v) : undefined;
}

/** `--ulimit` flags within the host's hard limits (nofile ≤ 1024, nproc ≤ 4096), for `podman run`. */
export function podmanUlimits(): { flags: string[]; note: string } {
  const nofile = Math.min(hostLimit('Max open files') ?? 1024, 1024);
  const nproc = Math.min(hostLimit('Max processes') ?? 4096, 4096);
  return { flags: ['--ulimit', `nofile=${nofile}:${nofile}`, '--ulimit', `nproc=${nproc}:${nproc}`], note: `ulimits nofile=${nofile} nproc=${nproc}` };
}
