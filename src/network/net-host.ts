/**
 * Where the engine's networks live. For root, on the host: bridges and firewall rules in the host's network
 * namespace, containers' namespaces in /run/netns, links seen in /sys/class/net. For an ordinary user, whose
 * namespace cannot touch the host's network, in a network namespace of the user's own (src/network/user-net.ts):
 * the same bridges, rules and plugins run there, each tool entered into it with nsenter(1), the containers'
 * namespaces are files under the user's runtime dir, and its links show in a sysfs mounted for it.
 *
 * Set once per process, before any network is touched (the engine does it at start for an ordinary user).
 */
import { basename, dirname, join } from 'node:path';

export interface NetHost {
  /** The namespace holding the bridges; undefined: the host's own (the process's). */
  netns?: string;
  /** Where containers' named network namespaces are bound. */
  netnsDir: string;
  /** A sysfs showing the bridges' namespace (its class/net). */
  sysfs: string;
}

const HOST: NetHost = { netnsDir: '/run/netns', sysfs: '/sys' };
let current: NetHost = HOST;

export function netHost(): NetHost {
  return current;
}

/** Put the engine's networks in `h` (an ordinary user's engine does, through user-net.ts). */
export function placeNetworks(h: NetHost): void {
  current = h;
}

/** A tool's command line run where the bridges live. */
export function onNetHost(cmd: string, args: readonly string[]): [string, string[]] {
  return current.netns ? ['nsenter', [`--net=${current.netns}`, '--', cmd, ...args]] : [cmd, [...args]];
}

/** `ip ARGS` inside the network namespace bound at `path` (ip -n takes only /run/netns names). */
export function ipIn(path: string, args: readonly string[]): [string, string[]] {
  return dirname(path) === HOST.netnsDir ? ['ip', ['-n', basename(path), ...args]] : ['nsenter', [`--net=${path}`, '--', 'ip', ...args]];
}

/** The sysfs directory of link `name` where the bridges live (it exists while the link does). */
export function linkDir(name: string): string {
  return join(current.sysfs, 'class', 'net', name);
}
