/**
 * What this host allows an ordinary user's containers (issue "Rootless"), probed file by file, each answer with
 * its reason: the user's subordinate ids and the setuid tools that map them, where the user's store and runtime
 * files go, which storage driver (src/engine/storage-driver.ts), runtime and network helper would serve, and
 * whether cgroup limits could apply.
 * An ordinary user's Berth runs as root of the user's own user namespace (bin/berth enters it through
 * berth-userns); where the host lacks what that needs, the CLI says what in one line (rootlessRefusal) and
 * `berth info` shows these facts.
 */
import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { cgroupInfo, chooseRuntime, probeRuntimes, type CgroupInfo } from '../runtime/probe.ts';
import { parseSubIds, readSubIdFiles, type SubIdRange } from '../runtime/spec/userns.ts';
import { chooseStorageDriver, storageHost } from './storage-driver.ts';
import { userPaths } from './user-paths.ts';
import { userNetworkHelper } from '../network/user-net.ts';
import { deviceAccess } from '../sys/device-access.ts';

export interface Fact<T> {
  value: T;
  why: string;
}

export interface RootlessFacts {
  user: { name: string; uid: number; gid: number };
  /** The user's store ($XDG_DATA_HOME/berth) and runtime files ($XDG_RUNTIME_DIR/berth). */
  paths: { root: string; run: string };
  uids: Fact<SubIdRange[]>;
  gids: Fact<SubIdRange[]>;
  /** newuidmap and newgidmap, setuid root (Debian's uidmap package). */
  idMapTools: Fact<boolean>;
  storage: Fact<'overlay' | 'fuse-overlayfs' | 'none'>;
  runtime: Fact<'crun' | 'runc' | 'none'>;
  /** Whether limits (memory, cpu, pids) could be set: a delegated cgroup v2 subtree. */
  cgroupLimits: Fact<boolean>;
  /** The user-mode network helper (src/network/user-net.ts), and whether the user may open /dev/net/tun for it. */
  network: Fact<'slirp4netns' | 'none'>;
  tun: Fact<boolean>;
}

/** The first of these programs that exists. */
const found = (...paths: string[]) => paths.find((p) => existsSync(p));

function setuidRoot(path: string | undefined): boolean {
  if (!path) return false;
  const st = statSync(path);
  return st.uid === 0 && (st.mode & 0o4000) !== 0;
}

function ranges(which: 'uid' | 'gid', text: string, name: string, uid: number): Fact<SubIdRange[]> {
  const r = parseSubIds(text, name, uid);
  const total = r.reduce((n, x) => n + x.count, 0);
  if (r.length === 0) return { value: r, why: `none for ${name} in /etc/sub${which}: a root user adds a range (usermod --add-sub${which}s 100000-165535 ${name})` };
  return { value: r, why: `${r.map((x) => `${x.start}-${x.start + x.count - 1}`).join(', ')} (${total} ids)${total < 65536 ? ': fewer than the 65,536 images expect' : ''}` };
}

/** The cgroup v2 subtree systemd delegates to the user (user@UID.service), and its controllers, if writable. */
function delegatedControllers(uid: number): string[] | undefined {
  const dir = `/sys/fs/cgroup/user.slice/user-${uid}.slice/user@${uid}.service`;
  try {
    accessSync(join(dir, 'cgroup.procs'), constants.W_OK);
    return readFileSync(join(dir, 'cgroup.controllers'), 'utf8').trim().split(/\s+/).filter(Boolean);
  } catch {
    return undefined;
  }
}

export function rootlessFacts(): RootlessFacts {
  const u = userInfo();
  const paths = userPaths();
  const { subuid, subgid } = readSubIdFiles();
  const uidmap = found('/usr/bin/newuidmap');
  const gidmap = found('/usr/bin/newgidmap');
  const tools = setuidRoot(uidmap) && setuidRoot(gidmap);
  const storage = chooseStorageDriver(undefined, storageHost(true));
  const cg = cgroupInfo();
  const delegated = cg.version === 2 ? delegatedControllers(u.uid) : undefined;
  const access = deviceAccess('/dev/net/tun');
  const tun: Fact<boolean> = access.opens
    ? { value: true, why: '/dev/net/tun opens for this user' }
    : {
        value: false,
        why: access.mode
          ? `/dev/net/tun is mode ${access.mode} here: a user-mode network needs it; a root user opens it with chmod 0666 /dev/net/tun (Debian's default); --network none and host need nothing`
          : 'no /dev/net/tun: a user-mode network needs the tun module (modprobe tun); --network none and host need nothing',
      };
  return {
    user: { name: u.username, uid: u.uid, gid: u.gid },
    paths,
    uids: ranges('uid', subuid, u.username, u.uid),
    gids: ranges('gid', subgid, u.username, u.uid),
    idMapTools: {
      value: tools,
      why: tools ? `${uidmap} and ${gidmap}, setuid root` : !uidmap || !gidmap ? 'newuidmap/newgidmap are not installed (apt-get install uidmap)' : 'newuidmap/newgidmap are not setuid root',
    },
    storage: storage.problem ? { value: 'none', why: storage.problem } : { value: storage.name, why: storage.why },
    runtime: userRuntime(cg, paths.run),
    cgroupLimits:
      cg.version === 2 && delegated && delegated.length > 0
        ? { value: true, why: `cgroup v2, delegated to the user: ${delegated.join(' ')}` }
        : {
            value: false,
            why: cg.version === 1
              ? 'cgroup v1: nothing is delegated to a user, so memory, cpu and pids limits would be dropped with a warning'
              : 'no cgroup v2 subtree is delegated to this user (systemd user@.service): limits would be dropped with a warning',
          },
    network: userNetworkHelper(),
    tun,
  };
}

/** The runtime the engine would choose inside the user's namespace, by the same probe it runs there. */
function userRuntime(cg: CgroupInfo, runDir: string): Fact<'crun' | 'runc' | 'none'> {
  const { chosen, why } = chooseRuntime(probeRuntimes(cg, {}, 'the configuration', undefined, { runDir }));
  return chosen && (chosen.name === 'crun' || chosen.name === 'runc') ? { value: chosen.name, why } : { value: 'none', why };
}

/**
 * Why an ordinary user's verb cannot run, in one line: what the host lacks for the user's namespace (subordinate
 * ids, the setuid mapping tools), or, with all of it there, that Berth was started around its launcher.
 */
export function rootlessRefusal(verb: string, f: RootlessFacts = rootlessFacts()): string {
  const lacks = [
    f.uids.value.length === 0 ? `subordinate uids: ${f.uids.why}` : '',
    f.gids.value.length === 0 ? `subordinate gids: ${f.gids.why}` : '',
    f.idMapTools.value ? '' : f.idMapTools.why,
  ].filter(Boolean);
  if (lacks.length > 0) return `${verb}: an ordinary user's Berth runs in a user namespace of its own, and this host lacks what that needs: ${lacks.join('; ')}`;
  return `${verb}: an ordinary user's Berth runs in a user namespace of its own: start it as bin/berth (or the berth setup puts on the PATH), which enters it`;
}
