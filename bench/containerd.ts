// A private containerd with its CRI plugin, for comparing Berth's CRI server with the runtime Kubernetes nodes
// most often run (bench/cri-bench.ts): Debian's containerd 1.6 on runc with cgroupfs, its own root, state,
// socket and CNI bridge (no masquerade, no port mapping: no firewall rules to undo), images imported from
// tarballs (no registry). Root lacks CAP_SYS_RESOURCE on this machine kind, so a negative oom_score_adj is
// restricted (containerd's restrict_oom_score_adj), as the CRI kit's baseline does. `stop` is synchronous and
// returns what it could not remove.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const CONTAINERD = '/usr/bin/containerd';
const CTR = '/usr/bin/ctr';
const RUNC = '/usr/sbin/runc';
const CNI = '/usr/lib/cni';

export interface PrivateContainerd {
  /** unix:///…/containerd.sock */
  endpoint: string;
  version: string;
  /** Import image tarballs (docker save format) into the CRI's namespace. */
  importImages(tar: string): void;
  stop(): string[];
}

/** Why a private containerd cannot run here, or undefined. */
export function containerdUnavailable(): string | undefined {
  for (const b of [CONTAINERD, CTR, RUNC, join(CNI, 'bridge'), join(CNI, 'host-local'), join(CNI, 'loopback')]) {
    if (!existsSync(b)) return `${b} is missing (apt-get install containerd runc containernetworking-plugins)`;
  }
  return undefined;
}

const run = (argv: string[]) => spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 120_000 });

/** Mount points under `dir`, deepest first. */
function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? '').filter((m) => m === dir || m.startsWith(`${dir}/`)).sort((a, b) => b.length - a.length);
}

export async function startContainerd(dir: string, o: { sandboxImage: string; subnet: string; bridge: string; httpRegistries?: string[] }): Promise<PrivateContainerd> {
  const root = join(dir, 'root');
  const state = join(dir, 'state');
  const cniConf = join(dir, 'cni');
  const sock = join(state, 'containerd.sock');
  for (const d of [root, state, cniConf]) mkdirSync(d, { recursive: true });
  // Registries reached over plain HTTP (a loopback registry of the bench's): containerd's hosts.toml per host.
  for (const host of o.httpRegistries ?? []) {
    mkdirSync(join(dir, 'certs.d', host), { recursive: true });
    writeFileSync(join(dir, 'certs.d', host, 'hosts.toml'), `server = "http://${host}"\n[host."http://${host}"]\n  capabilities = ["pull", "resolve"]\n`);
  }
  const lowerOom = spawnSync('sh', ['-c', 'echo -998 > /proc/self/oom_score_adj'], { stdio: 'ignore' }).status === 0;
  writeFileSync(join(dir, 'config.toml'), `version = 2
root = "${root}"
state = "${state}"
[grpc]
  address = "${sock}"
[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "${join(root, 'opt')}"
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "${o.sandboxImage}"
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"
    restrict_oom_score_adj = ${!lowerOom}
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          BinaryName = "${RUNC}"
          Root = "${join(state, 'runc')}"
          SystemdCgroup = false
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "${CNI}"
      conf_dir = "${cniConf}"
      max_conf_num = 1
    [plugins."io.containerd.grpc.v1.cri".registry]
      config_path = "${join(dir, 'certs.d')}"
`);
  const netName = `berth-bench-${o.bridge}`;
  writeFileSync(join(cniConf, '10-bench.conflist'), JSON.stringify({
    cniVersion: '1.0.0', name: netName,
    plugins: [{ type: 'bridge', bridge: o.bridge, isGateway: true, ipMasq: false, ipam: { type: 'host-local', ranges: [[{ subnet: o.subnet }]], dataDir: join(state, 'cni-ipam') } }],
  }));
  const netnsBefore = new Set(existsSync('/run/netns') ? readdirSync('/run/netns') : []);
  const k8sCgroups = () => (existsSync('/sys/fs/cgroup') ? readdirSync('/sys/fs/cgroup') : []).map((c) => join('/sys/fs/cgroup', c, 'k8s.io')).filter((k) => existsSync(k));
  const cgroupsBefore = new Set(k8sCgroups());
  // critest asks containerd 1.6 (which has no RuntimeConfig) for the cgroup parent /test.slice, which it turns
  // into directories named `/test.slice:cri-containerd:<id>` at each hierarchy's root.
  const criCgroups = () => (existsSync('/sys/fs/cgroup') ? readdirSync('/sys/fs/cgroup') : []).flatMap((c) => {
    const h = join('/sys/fs/cgroup', c);
    try {
      return readdirSync(h).filter((d) => d.includes('cri-containerd') || d === 'test.slice').map((d) => join(h, d));
    } catch {
      return [];
    }
  });
  const criCgroupsBefore = new Set(criCgroups());
  const log = join(dir, 'containerd.log');
  const child: ChildProcess = spawn(CONTAINERD, ['--config', join(dir, 'config.toml')], { stdio: ['ignore', 'ignore', 'ignore'], detached: true, env: { ...process.env } });
  writeFileSync(log, '');
  const deadline = Date.now() + 20_000;
  while (!existsSync(sock) || run([CTR, '-a', sock, 'version']).status !== 0) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`containerd did not start (exit ${child.exitCode})`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const version = run([CONTAINERD, '--version']).stdout.trim().split(/\s+/)[2] ?? '';
  return {
    endpoint: `unix://${sock}`,
    version,
    importImages(tar: string) {
      const r = run([CTR, '-a', sock, '-n', 'k8s.io', 'images', 'import', tar]);
      if (r.status !== 0) throw new Error(`ctr images import: ${r.stderr}`);
    },
    stop() {
      const left: string[] = [];
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const until = Date.now() + 10_000;
        while (child.exitCode === null && Date.now() < until && existsPid(child.pid!)) spawnSync('sleep', ['0.1']);
      }
      // The shims it started outlive it: those that name this instance's socket.
      for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
        try {
          const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
          if (cmd.includes('containerd-shim') && cmd.includes(sock)) process.kill(Number(pid), 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
      for (const m of mountsUnder(dir)) if (run(['umount', '-l', m]).status !== 0) left.push(`mount ${m}`);
      for (const ns of existsSync('/run/netns') ? readdirSync('/run/netns') : []) {
        if (netnsBefore.has(ns) || !ns.startsWith('cni-')) continue;
        run(['umount', join('/run/netns', ns)]);
        rmSync(join('/run/netns', ns), { force: true });
      }
      if (existsSync(`/sys/class/net/${o.bridge}`) && run(['ip', 'link', 'del', o.bridge]).status !== 0) left.push(`bridge ${o.bridge}`);
      for (const f of existsSync('/var/lib/cni/results') ? readdirSync('/var/lib/cni/results') : []) if (f.startsWith(`${netName}-`)) rmSync(join('/var/lib/cni/results', f), { force: true });
      // runc's cgroups of its containers (cgroupfs, no parent given: /k8s.io/<id>), removed by runc on delete.
      // What the shims ran outlives them too: the processes left in this instance's cgroups are killed.
      for (const cg of [...criCgroups(), ...k8sCgroups()].filter((d) => !criCgroupsBefore.has(d) && !cgroupsBefore.has(d))) {
        const procs = spawnSync('find', [cg, '-name', 'cgroup.procs'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
        for (const f of procs) {
          for (const pid of readFileSync(f, 'utf8').split('\n').filter(Boolean)) {
            try {
              process.kill(Number(pid), 'SIGKILL');
            } catch {
              // gone meanwhile
            }
          }
        }
      }
      spawnSync('sleep', ['0.3']);
      for (const cg of criCgroups().filter((d) => !criCgroupsBefore.has(d))) {
        if (spawnSync('find', [cg, '-depth', '-type', 'd', '-exec', 'rmdir', '{}', ';']).status !== 0 || existsSync(cg)) left.push(`cgroup ${cg}`);
      }
      for (const k of k8sCgroups()) {
        if (cgroupsBefore.has(k)) continue;
        for (const d of readdirSync(k, { withFileTypes: true })) if (d.isDirectory()) run(['rmdir', join(k, d.name)]);
        if (run(['rmdir', k]).status !== 0) left.push(`cgroup ${k}`);
      }
      try {
        rmSync(dir, { recursive: true, force: true });
      } catch (e) {
        left.push(`${dir}: ${(e as Error).message}`);
      }
      return left;
    },
  };
}

function existsPid(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
