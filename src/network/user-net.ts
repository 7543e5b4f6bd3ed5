/**
 * An ordinary user's bridge networks. The user's namespace cannot make links on the host, so the engine keeps a
 * network namespace of the user's own (`<run>/network/net`) where its bridges, firewall rules and plugins work
 * as root's do on the host (net-host.ts), with a sysfs of that namespace at `<run>/network/sys`. slirp4netns
 * joins it to the host's network through a tap device (10.0.2.100, gateway 10.0.2.2): the namespace's traffic
 * leaves as the user's own connections. A published port is a forward slirp4netns listens on at the host
 * (added through its API socket while it runs), to the same port at 10.0.2.100, where portmap's DNAT rules take
 * it to the container, as on root's host.
 *
 * The namespace and its mounts live in the user's mount namespace, so they last as long as the user's Berth
 * namespace (its pause process); slirp4netns is a process of its own, started when a container first needs the
 * way out and left running (a `<run>/network/slirp4netns.pid` records it, with the namespace it serves).
 * `system reset` removes the namespace whole, the helper with it.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, statfsSync, statSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { Conflict, NotSupported, RuntimeFailure } from '../errors.ts';
import { deviceAccess } from '../sys/device-access.ts';
import { tryLockFile, unlockFile } from '../sys/flock.ts';
import { lastLine, run } from '../sys/run.ts';
import type { PortMapping } from '../types.ts';
import { placeNetworks } from './net-host.ts';
import { isNamespaceFile } from './netns.ts';

const SYSFS_MAGIC = 0x62656572;
const SLIRP = '/usr/bin/slirp4netns';
/** slirp4netns's address for its namespace with --configure, where forwards arrive. */
export const USER_NET_ADDRESS = '10.0.2.100';
/** The subnet slirp4netns gives the namespace: no bridge network may take it. */
export const USER_NET_SUBNET = '10.0.2.0/24';

export class UserNetwork {
  readonly dir: string;
  readonly netns: string;
  readonly sysfs: string;
  readonly netnsDir: string;
  private readonly api: string;
  private readonly pidFile: string;

  /** Places the engine's networks in this user's namespace (made on first use). */
  constructor(runDir: string) {
    this.dir = join(runDir, 'network');
    this.netns = join(this.dir, 'net');
    this.sysfs = join(this.dir, 'sys');
    this.netnsDir = join(runDir, 'netns');
    this.api = join(this.dir, 'slirp4netns.sock');
    this.pidFile = join(this.dir, 'slirp4netns.pid');
    placeNetworks({ netns: this.netns, netnsDir: this.netnsDir, sysfs: this.sysfs });
  }

  /**
   * The namespace ready for the plugins; `withWayOut` also its link to the host (slirp4netns), which a container
   * joining a network needs and a removal does not. Serialised across the user's processes by a lock file.
   */
  async ensure(withWayOut: boolean): Promise<void> {
    if (this.namespaceReady() && (!withWayOut || this.helperPid() !== undefined)) return;
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    mkdirSync(this.netnsDir, { recursive: true, mode: 0o700 });
    const lock = join(this.dir, 'lock');
    const deadline = Date.now() + 30_000;
    let fd: number | null;
    while ((fd = await tryLockFile(lock)) === null) {
      if (Date.now() > deadline) throw new RuntimeFailure(`the user's network namespace: ${lock} stayed locked for 30 s`);
      await new Promise((r) => setTimeout(r, 20));
    }
    try {
      if (!this.namespaceReady()) await this.makeNamespace();
      if (withWayOut && this.helperPid() === undefined) await this.startHelper();
    } finally {
      unlockFile(fd);
    }
  }

  private namespaceReady(): boolean {
    if (!isNamespaceFile(this.netns)) return false;
    try {
      return statfsSync(this.sysfs).type === SYSFS_MAGIC;
    } catch {
      return false;
    }
  }

  private async makeNamespace(): Promise<void> {
    const must = async (cmd: string, args: string[]) => {
      const r = await run(cmd, args);
      if (r.code !== 0) throw new RuntimeFailure(`the user's network namespace: ${cmd} ${args.join(' ')}: ${lastLine(r.stderr) || `exit status ${r.code}`}`);
    };
    if (!isNamespaceFile(this.netns)) {
      // A file left by a namespace that ended with the user's earlier Berth namespace is made again, and the
      // helper of that namespace goes.
      const stale = this.recordedHelper();
      if (stale) process.kill(stale.pid, 'SIGKILL');
      rmSync(this.pidFile, { force: true });
      closeSync(openSync(this.netns, 'w'));
      await must('unshare', [`--net=${this.netns}`, 'true']);
    }
    mkdirSync(this.sysfs, { recursive: true });
    // sysfs shows the network namespace of whoever mounts it.
    const enter = ['nsenter', `--net=${this.netns}`, '--'];
    await must(enter[0]!, [...enter.slice(1), 'ip', 'link', 'set', 'lo', 'up']);
    await must(enter[0]!, [...enter.slice(1), 'mount', '-t', 'sysfs', '-o', 'ro,nosuid,nodev,noexec', 'sysfs', this.sysfs]);
  }

  /** slirp4netns's pid while it runs for this namespace. */
  helperPid(): number | undefined {
    const h = this.recordedHelper();
    return h && h.netnsInode === inodeOf(this.netns) ? h.pid : undefined;
  }

  /**
   * The slirp4netns the pid file names while it runs, and the inode of the namespace it was started for. One
   * started for a namespace that ended with the user's earlier Berth namespace (same path, another inode)
   * outlives it, holding that namespace through its tap device, until the next namespace is made.
   */
  private recordedHelper(): { pid: number; netnsInode: number } | undefined {
    try {
      const [pid, netnsInode] = readFileSync(this.pidFile, 'utf8').split(' ').map(Number) as [number, number];
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      return cmd[0] === SLIRP && cmd.includes(this.netns) ? { pid, netnsInode } : undefined;
    } catch {
      return undefined;
    }
  }

  private async startHelper(): Promise<void> {
    if (!existsSync(SLIRP)) {
      throw new NotSupported("an ordinary user's bridge network needs slirp4netns, which is not installed (apt-get install slirp4netns); --network none and host need nothing");
    }
    assertTunOpens();
    rmSync(this.api, { force: true });
    const log = openSync(join(this.dir, 'slirp4netns.log'), 'w');
    // It reports ready on fd 3 (a pipe), and then outlives this process in a session of its own.
    const child = spawn(
      SLIRP,
      ['--configure', '--mtu=65520', '--disable-host-loopback', '--enable-sandbox', '--enable-seccomp', '--ready-fd=3', `--api-socket=${this.api}`, '--netns-type=path', this.netns, 'tap0'],
      { detached: true, stdio: ['ignore', log, log, 'pipe'] },
    );
    closeSync(log);
    const ready = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 10_000);
      const pipe = child.stdio[3] as NodeJS.ReadableStream;
      pipe.once('data', () => (clearTimeout(timer), resolve(true)));
      child.once('exit', () => (clearTimeout(timer), resolve(false)));
    });
    (child.stdio[3] as NodeJS.ReadableStream & { destroy(): void }).destroy();
    if (!ready || child.pid === undefined) {
      child.kill('SIGKILL');
      const why = lastLine(readFileSync(join(this.dir, 'slirp4netns.log'), 'utf8')) || 'it did not report ready';
      throw new RuntimeFailure(`the user's network: slirp4netns failed: ${why}`);
    }
    writeFileSync(this.pidFile, `${child.pid} ${inodeOf(this.netns)}`);
    child.unref();
  }

  /** The namespace, everything in it (bridges, rules) and its helper gone (system reset); made again when next needed. */
  async remove(): Promise<void> {
    const h = this.recordedHelper();
    if (h) process.kill(h.pid, 'SIGKILL');
    for (const mount of [this.sysfs, this.netns]) {
      const r = await run('umount', [mount]);
      if (r.code !== 0 && !/not mounted|no mount point|No such file/.test(r.stderr)) throw new RuntimeFailure(`umount ${mount}: ${lastLine(r.stderr)}`);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  /**
   * Published ports forwarded from the host to the namespace (its side is portmap's). The engine gave the ports
   * to this container, so a forward of one that is there already was left by a container that ended without
   * its teardown, and is replaced. Undone on failure.
   */
  async forward(ports: readonly PortMapping[]): Promise<void> {
    await this.unforward(ports);
    const done: PortMapping[] = [];
    try {
      for (const p of ports) {
        const addr = p.hostIP || '0.0.0.0';
        await this.call({ execute: 'add_hostfwd', arguments: { proto: p.protocol, host_addr: addr, host_port: p.hostPort, guest_addr: USER_NET_ADDRESS, guest_port: p.hostPort } }).catch(() => {
          throw new Conflict(`cannot publish ${addr}:${p.hostPort}/${p.protocol}: slirp4netns could not listen there (${whyNoListen(p.hostPort)})`);
        });
        done.push(p);
      }
    } catch (e) {
      await this.unforward(done).catch(() => {});
      throw e;
    }
  }

  /** Remove the forwards of `ports` (those that are there; the helper gone, none is). */
  async unforward(ports: readonly PortMapping[]): Promise<void> {
    if (ports.length === 0 || this.helperPid() === undefined) return;
    const listed = (await this.call({ execute: 'list_hostfwd' })) as { entries?: { id: number; proto: string; host_addr: string; host_port: number }[] };
    for (const e of listed.entries ?? []) {
      if (ports.some((p) => p.protocol === e.proto && p.hostPort === e.host_port && (p.hostIP || '0.0.0.0') === e.host_addr)) {
        await this.call({ execute: 'remove_hostfwd', arguments: { id: e.id } });
      }
    }
  }

  /** One request on slirp4netns's API socket: its answer (list_hostfwd's bare, the others' in `return`), or its `error` thrown. */
  private call(req: object): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const sock = createConnection(this.api);
      let text = '';
      sock.setEncoding('utf8');
      sock.setTimeout(5000, () => sock.destroy(new Error('no answer in 5 s')));
      sock.on('connect', () => sock.end(JSON.stringify(req)));
      sock.on('data', (d: string) => (text += d));
      sock.on('error', (e) => reject(new RuntimeFailure(`slirp4netns API: ${e.message}`)));
      sock.on('close', () => {
        try {
          const r = JSON.parse(text) as { return?: unknown; error?: { desc?: string } };
          if (r.error) reject(new RuntimeFailure(`slirp4netns: ${r.error.desc ?? JSON.stringify(r.error)}`));
          else resolve('return' in r ? r.return : r);
        } catch {
          reject(new RuntimeFailure(`slirp4netns API: unexpected answer ${JSON.stringify(text)}`));
        }
      });
    });
  }
}

/**
 * The helper an ordinary user's bridge networks go out through, and why: slirp4netns (`pid` when it runs), or
 * none with what the host lacks. (pasta, passt's, forwards only the ports it was started with; a container
 * publishes its ports whenever it starts, which slirp4netns's API socket allows while it runs.)
 */
export function userNetworkHelper(pid?: number): { value: 'slirp4netns' | 'none'; why: string } {
  if (pid !== undefined) return { value: 'slirp4netns', why: `${SLIRP} runs (pid ${pid}): bridge networks live in the user's network namespace, published ports are its forwards` };
  if (!existsSync(SLIRP)) return { value: 'none', why: 'slirp4netns is not installed (apt-get install slirp4netns): only --network none and host' };
  try {
    assertTunOpens();
  } catch (e) {
    return { value: 'none', why: `${(e as Error).message.replace(/^an ordinary user's bridge network needs/, 'slirp4netns needs')}` };
  }
  return { value: 'slirp4netns', why: `${SLIRP}, started with the first container on a bridge network` };
}

/** Whether this user may open /dev/net/tun, which slirp4netns's tap device needs; if not, one line naming the fix. */
export function assertTunOpens(): void {
  const tun = deviceAccess('/dev/net/tun');
  if (tun.opens) return;
  if (tun.mode === undefined) throw new NotSupported("an ordinary user's bridge network needs /dev/net/tun, which this host lacks (a root user loads it: modprobe tun); --network none and host need nothing");
  throw new NotSupported(
    `an ordinary user's bridge network needs /dev/net/tun, which this user cannot open (mode ${tun.mode}): a root user opens it with chmod 0666 /dev/net/tun (Debian's default); --network none and host need nothing`,
  );
}

/** Why an ordinary user's process may fail to listen on `port`: below the host's unprivileged start, or in use. */
function whyNoListen(port: number): string {
  let start = 1024;
  try {
    start = Number(readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8'));
  } catch {
    /* the kernel's default */
  }
  return port < start ? `ports below ${start} are the host root's (net.ipv4.ip_unprivileged_port_start)` : 'the port is in use on the host';
}

/** The inode of a namespace file (a namespace's identity), or -1. */
function inodeOf(path: string): number {
  try {
    return statSync(path).ino;
  } catch {
    return -1;
  }
}
