/**
 * The files docker bind-mounts into every container: /etc/hosts, /etc/resolv.conf and /etc/hostname.
 * Renderers are pure (docker 20.10's libnetwork rules); writeInPlace updates a file that is already
 * bind-mounted into a running container.
 */
import { closeSync, constants, ftruncateSync, openSync, writeSync } from 'node:fs';

/** Input for renderHosts. */
export interface HostsInput {
  /** The container's hostname; with a dot it is an FQDN and the short name is listed too. */
  hostname: string;
  /** The container's own addresses (no prefix length), one line each. */
  ips: string[];
  /** `--add-host host:ip`, in command-line order. */
  extraHosts: { host: string; ip: string }[];
  /** Legacy `--link` peers: one line per peer, its names (alias, hostname…) after the address. */
  peers: { ip: string; names: string[] }[];
}

/**
 * The names a container answers to on a network: its name, its aliases there, its short id, each once
 * (docker-compose gives the short id as an alias too).
 */
export function namesOnNetwork(name: string, aliases: readonly string[], id: string): string[] {
  return [...new Set([name, ...aliases, id.slice(0, 12)])];
}

const LOCALHOST = [
  ['127.0.0.1', 'localhost'],
  ['::1', 'localhost ip6-localhost ip6-loopback'],
  ['fe00::0', 'ip6-localnet'],
  ['ff00::0', 'ip6-mcastprefix'],
  ['ff02::1', 'ip6-allnodes'],
  ['ff02::2', 'ip6-allrouters'],
] as const;

/**
 * /etc/hosts in docker's order: the localhost lines, then `--add-host` lines, then link peers, then the
 * container's own `<ip>\t<hostname>` lines (docker appends those last, once the endpoint has an address).
 * Fields are tab-separated like docker's.
 */
export function renderHosts(h: HostsInput): string {
  const lines: string[] = LOCALHOST.map(([ip, names]) => `${ip}\t${names}`);
  for (const e of h.extraHosts) lines.push(`${e.ip}\t${e.host}`);
  for (const p of h.peers) if (p.names.length > 0) lines.push(`${p.ip}\t${p.names.join(' ')}`);
  const dot = h.hostname.indexOf('.');
  const names = dot > 0 ? `${h.hostname} ${h.hostname.slice(0, dot)}` : h.hostname;
  for (const ip of h.ips) lines.push(`${ip}\t${names}`);
  return lines.join('\n') + '\n';
}

/** User DNS settings (`--dns`, `--dns-search`, `--dns-option`); an empty or missing list means "not given". */
export interface DnsOptions {
  dns?: string[];
  search?: string[];
  options?: string[];
  /** Keep the host's IPv6 nameservers (docker drops them unless the network has IPv6). Default false. */
  ipv6?: boolean;
}

const DEFAULT_DNS4 = ['8.8.8.8', '8.8.4.4'];
const DEFAULT_DNS6 = ['2001:4860:4860::8888', '2001:4860:4860::8844'];
const NAMESERVER_RE = /^\s*nameserver\s+(\S+)\s*$/;
const LOCAL_NS_RE = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1)$/;

function withoutComment(line: string): string {
  const i = line.search(/[#;]/);
  return i < 0 ? line : line.slice(0, i);
}

function keyword(lines: string[], word: 'search' | 'options'): string[] {
  let found: string[] = [];
  // Like docker (and glibc): the last line of a kind wins.
  for (const l of lines) {
    const f = withoutComment(l).trim().split(/\s+/);
    if (f[0] === word) found = f.slice(1);
  }
  return found;
}

/**
 * /etc/resolv.conf for a container on a bridge network, from the host's file.
 *
 * Without user settings the host's file is kept as written, minus loopback nameservers (127.x, ::1: they
 * mean the host's own resolver, unreachable from the container) and, unless `ipv6`, IPv6 nameservers;
 * when no nameserver is left, Google's 8.8.8.8 and 8.8.4.4 are appended (plus the two IPv6 ones with
 * `ipv6`), as docker does. With any user setting the file is rebuilt as `search`, `nameserver`s,
 * `options`, each taken from the user when given and from the host (filtered as above) otherwise.
 * Deliberate difference: docker keeps the host's loopback nameservers in that rebuilt file; they cannot
 * work on a bridge network, so they are dropped here too. `--dns-search .` means no search line.
 */
export function renderResolv(hostResolvConf: string, o: DnsOptions = {}): string {
  const hostLines = hostResolvConf.split('\n');
  const keep = (ns: string): boolean => !LOCAL_NS_RE.test(ns) && (o.ipv6 === true || !ns.includes(':'));
  const filtered = hostLines.filter((l) => {
    const m = NAMESERVER_RE.exec(withoutComment(l));
    return !m || keep(m[1]!);
  });
  const nameservers = filtered.flatMap((l) => {
    const m = NAMESERVER_RE.exec(withoutComment(l));
    return m ? [m[1]!] : [];
  });
  const defaults = o.ipv6 === true ? [...DEFAULT_DNS4, ...DEFAULT_DNS6] : DEFAULT_DNS4;
  const given = (l?: string[]): l is string[] => l !== undefined && l.length > 0;

  if (!given(o.dns) && !given(o.search) && !given(o.options)) {
    let text = filtered.join('\n');
    if (nameservers.length === 0) {
      if (text.length > 0 && !text.endsWith('\n')) text += '\n';
      text += defaults.map((d) => `nameserver ${d}\n`).join('');
    }
    return text.length === 0 || text.endsWith('\n') ? text : text + '\n';
  }

  const search = given(o.search) ? o.search : keyword(hostLines, 'search');
  const servers = given(o.dns) ? o.dns : nameservers.length > 0 ? nameservers : defaults;
  const options = given(o.options) ? o.options : keyword(hostLines, 'options');
  const out: string[] = [];
  if (search.length > 0 && search.join(' ').trim() !== '.') out.push(`search ${search.join(' ')}`);
  for (const s of servers) out.push(`nameserver ${s}`);
  if (options.length > 0) out.push(`options ${options.join(' ')}`);
  return out.join('\n') + '\n';
}

/** /etc/hostname: the name and a newline. */
export function renderHostname(h: string): string {
  return `${h}\n`;
}

/**
 * Replace a file's content keeping its inode, so a bind mount of it into a running container sees the
 * change (a rename would leave the container on the old inode). Creates the file (mode 0644) when
 * missing; an existing file keeps its mode and owner.
 *
 * Chosen: truncate to zero, then one write() of the whole text. A concurrent reader sees the old file,
 * an empty file, or the new file, never old and new bytes mixed; for text under a page (4 KiB, which
 * these files are) the kernel copies it in one go. Writing first and truncating after would avoid the
 * empty moment but expose the old file's tail after shorter new text.
 */
export function writeInPlace(path: string, text: string): void {
  const buf = Buffer.from(text, 'utf8');
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT, 0o644);
  try {
    ftruncateSync(fd, 0);
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off, off);
  } finally {
    closeSync(fd);
  }
}
