/**
 * Network and volume endpoints in docker's shapes: `/networks` (list, inspect, create, remove, prune,
 * connect, disconnect) and `/volumes` (list, inspect, create, remove, prune), over the engine's own
 * network and volume code (the same calls the `network` and `volume` verbs make).
 */
import { createUserNetwork, pruneNetworks, removeNetwork } from '../engine/networks.ts';
import { allNetworks, networkJson, type NetworkSummary } from '../engine/network-inspect.ts';
import { connectNetwork, disconnectNetwork } from '../engine/network-attach.ts';
import { matchVolume, pruneVolumes, removeVolume, type VolumeFilter } from '../engine/verbs/volume.ts';
import { volumeJson } from '../engine/volume-inspect.ts';
import { newId } from '../engine/names.ts';
import { InvalidArgument, NotFound } from '../errors.ts';
import { type Ctx } from './http.ts';
import { parseFilters } from './containers.ts';

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

function strMap(v: unknown, what: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new InvalidArgument(`invalid ${what}: an object of strings is expected`);
  return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, String(x ?? '')]));
}

function labelMatch(labels: Record<string, string>, f: string): boolean {
  const i = f.indexOf('=');
  return i < 0 ? f in labels : labels[f.slice(0, i)] === f.slice(i + 1);
}

// ---- networks ----

const BUILTIN = new Set(['bridge', 'host', 'none']);

function findNet(ctx: Ctx, ref: string): NetworkSummary {
  const all = allNetworks(ctx.engine);
  const n = all.find((x) => x.name === ref || x.id === ref) ?? all.filter((x) => x.id.startsWith(ref)).at(0);
  if (!n) throw new NotFound(`network ${ref} not found`);
  return n;
}

/** `GET /networks?filters=` */
export async function networkList(ctx: Ctx): Promise<void> {
  const filters = parseFilters(ctx.q('filters'));
  for (const k of Object.keys(filters)) {
    if (!['name', 'id', 'driver', 'label', 'type', 'scope', 'dangling'].includes(k)) throw new InvalidArgument(`invalid filter '${k}'`);
  }
  for (const t of filters.type ?? []) if (t !== 'custom' && t !== 'builtin') throw new InvalidArgument(`invalid filter: 'type'='${t}'`);
  const match = (n: NetworkSummary, k: string, v: string): boolean => {
    switch (k) {
      case 'name':
        return n.name.includes(v);
      case 'id':
        return n.id.startsWith(v);
      case 'driver':
        return n.driver === v;
      case 'label':
        return labelMatch(n.row?.labels ?? {}, v);
      case 'type':
        return (v === 'builtin') === BUILTIN.has(n.name);
      case 'scope':
        return v === 'local';
      case 'dangling': {
        const used = Object.keys(networkJson(ctx.engine, n).Containers as Record<string, unknown>).length > 0 || BUILTIN.has(n.name);
        return (v === 'true' || v === '1') !== used;
      }
      default:
        return false;
    }
  };
  const out = allNetworks(ctx.engine)
    .filter((n) => Object.entries(filters).every(([k, vals]) => vals.length === 0 || (k === 'label' ? vals.every((v) => match(n, k, v)) : vals.some((v) => match(n, k, v)))))
    .map((n) => networkJson(ctx.engine, n));
  ctx.send(200, out);
}

/** `GET /networks/{id}` */
export async function networkInspect(ctx: Ctx): Promise<void> {
  ctx.send(200, networkJson(ctx.engine, findNet(ctx, ctx.params[0]!)));
}

/** `POST /networks/create` `{Name, Driver, Internal, EnableIPv6, IPAM:{Config:[{Subnet,Gateway,IPRange}]}, Labels, Options}` */
export async function networkCreate(ctx: Ctx): Promise<void> {
  const body = await ctx.json();
  const name = str(body.Name);
  if (!name) throw new InvalidArgument('network name is required');
  const ipam = (body.IPAM ?? {}) as { Driver?: string; Config?: { Subnet?: string; Gateway?: string; IPRange?: string }[] | null };
  if (ipam.Driver && ipam.Driver !== 'default') throw new InvalidArgument(`IPAM driver "${ipam.Driver}" is not supported: use default`);
  const config = Array.isArray(ipam.Config) ? ipam.Config : [];
  let mtu: number | undefined;
  for (const [k, v] of Object.entries(strMap(body.Options, 'Options'))) {
    if (k === 'com.docker.network.driver.mtu' || k === 'mtu') mtu = Number(v);
    else throw new InvalidArgument(`unsupported network option: ${k}`);
  }
  const net = await createUserNetwork(ctx.engine, {
    name,
    driver: str(body.Driver) ?? 'bridge',
    subnet: config.map((c) => c.Subnet).filter((s): s is string => !!s),
    gateway: config.map((c) => c.Gateway).filter((s): s is string => !!s),
    ipRange: config.map((c) => c.IPRange).filter((s): s is string => !!s),
    ipv6: body.EnableIPv6 === true,
    internal: body.Internal === true,
    labels: strMap(body.Labels, 'Labels'),
    mtu,
  });
  ctx.send(201, { Id: net.id, Warning: '' });
}

/** `DELETE /networks/{id}` */
export async function networkRemove(ctx: Ctx): Promise<void> {
  const n = findNet(ctx, ctx.params[0]!);
  await ctx.engine.repair();
  await removeNetwork(ctx.engine, BUILTIN.has(n.name) ? n.name : n.id);
  ctx.send(204);
}

/** `POST /networks/prune?filters={"label":[…]}` */
export async function networkPrune(ctx: Ctx): Promise<void> {
  const filters = parseFilters(ctx.q('filters'));
  for (const k of Object.keys(filters)) if (k !== 'label') throw new InvalidArgument(`invalid filter '${k}'`);
  await ctx.engine.repair();
  const names = await pruneNetworks(ctx.engine, filters.label ?? []);
  ctx.send(200, { NetworksDeleted: names });
}

/** `POST /networks/{id}/connect` `{Container, EndpointConfig:{IPAMConfig:{IPv4Address}, Aliases}}` */
export async function networkConnect(ctx: Ctx): Promise<void> {
  const body = await ctx.json();
  const container = str(body.Container);
  if (!container) throw new InvalidArgument('a container is required');
  const n = findNet(ctx, ctx.params[0]!);
  const ep = (body.EndpointConfig ?? {}) as { IPAMConfig?: { IPv4Address?: string } | null; Aliases?: string[] | null };
  const aliases = Array.isArray(ep.Aliases) ? ep.Aliases.map(String) : [];
  await connectNetwork(ctx.engine, container, n.name, { ip: str(ep.IPAMConfig?.IPv4Address), aliases });
  ctx.send(200);
}

/** `POST /networks/{id}/disconnect` `{Container, Force}` */
export async function networkDisconnect(ctx: Ctx): Promise<void> {
  const body = await ctx.json();
  const container = str(body.Container);
  if (!container) throw new InvalidArgument('a container is required');
  const n = findNet(ctx, ctx.params[0]!);
  await disconnectNetwork(ctx.engine, container, n.name);
  ctx.send(200);
}

// ---- volumes ----

/** docker's volume filters from the API's `filters`. */
function volumeFilter(ctx: Ctx, extra: string[] = []): { f: VolumeFilter; all: boolean } {
  const filters = parseFilters(ctx.q('filters'));
  const f: VolumeFilter = {};
  let all = false;
  for (const [k, vals] of Object.entries(filters)) {
    if (vals.length === 0) continue;
    if (k === 'dangling') {
      for (const v of vals) if (!['true', 'false', '1', '0'].includes(v)) throw new InvalidArgument(`invalid filter 'dangling=${v}'`);
      f.dangling = vals[0] === 'true' || vals[0] === '1';
    } else if (k === 'label') f.labels = vals;
    else if (k === 'name') f.name = vals;
    else if (k === 'driver') f.driver = vals;
    else if (k === 'all' && extra.includes('all')) all = vals.some((v) => v === 'true' || v === '1');
    else throw new InvalidArgument(`invalid filter '${k}'`);
  }
  return { f, all };
}

/** `GET /volumes?filters=` → `{Volumes, Warnings}` */
export async function volumeList(ctx: Ctx): Promise<void> {
  const { f } = volumeFilter(ctx);
  const vols = ctx.engine.volumes.repo
    .list()
    .filter((v) => matchVolume(ctx.engine, v, f))
    .map((v) => volumeJson(ctx.engine, v.name));
  ctx.send(200, { Volumes: vols, Warnings: [] });
}

/** `GET /volumes/{name}` */
export async function volumeInspect(ctx: Ctx): Promise<void> {
  ctx.send(200, volumeJson(ctx.engine, ctx.params[0]!));
}

/** `POST /volumes/create` `{Name, Driver, DriverOpts, Labels}` → 201 the volume (an existing one as it is). */
export async function volumeCreate(ctx: Ctx): Promise<void> {
  const body = await ctx.json();
  const { volume } = ctx.engine.volumes.create(
    { name: str(body.Name), driver: str(body.Driver) ?? 'local', options: strMap(body.DriverOpts, 'DriverOpts'), labels: strMap(body.Labels, 'Labels') },
    newId,
  );
  ctx.send(201, volumeJson(ctx.engine, volume.name));
}

/** `DELETE /volumes/{name}?force=` */
export async function volumeRemove(ctx: Ctx): Promise<void> {
  await ctx.engine.repair();
  await removeVolume(ctx.engine, ctx.params[0]!, ctx.qbool('force'));
  ctx.send(204);
}

/** `POST /volumes/prune?filters=` (`all=true`: named volumes too, as API 1.42+) → `{VolumesDeleted, SpaceReclaimed}` */
export async function volumePrune(ctx: Ctx): Promise<void> {
  const { f, all } = volumeFilter(ctx, ['all']);
  await ctx.engine.repair();
  const gone = await pruneVolumes(ctx.engine, all || prunesNamedToo(ctx), f);
  ctx.send(200, { VolumesDeleted: gone.map((v) => v.name), SpaceReclaimed: gone.reduce((n, v) => n + v.size, 0) });
}

/** Before API 1.42 a prune removed named volumes too. */
function prunesNamedToo(ctx: Ctx): boolean {
  const [maj, min] = ctx.version.split('.').map(Number) as [number, number];
  return maj === 1 && min < 42;
}

