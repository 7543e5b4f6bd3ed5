/**
 * Network and volume endpoints in docker's shapes: `/networks` (list, inspect, create, remove, prune,
 * connect, disconnect) and `/volumes` (list, inspect, create, remove, prune), over the engine's own
 * network and volume code (the same calls the `network` and `volume` verbs make).
 */
import { createUserNetwork, pruneNetworks, removeNetwork } from '../engine/networks.ts';
import { allNetworks, networkJson, type NetworkSummary } from '../engine/network-inspect.ts';
import { connectNetwork, disconnectNetwork, unlink } from '../engine/network-attach.ts';
import type { EndpointOptions } from '../engine/net-config.ts';
import { matchVolume, pruneVolumes, removeVolume, type VolumeFilter } from '../engine/verbs/volume.ts';
import { volumeJson } from '../engine/volume-inspect.ts';
import { newId } from '../engine/names.ts';
import { InvalidArgument, NoSuchContainer, NotFound } from '../errors.ts';
import { field, stringList, stringMap, typed } from './go-json.ts';
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

/**
 * `POST /networks/create` `{Name, Driver, Scope, Internal, Attachable, Ingress, ConfigOnly, ConfigFrom,
 * EnableIPv4, EnableIPv6, IPAM:{Driver, Config:[{Subnet, IPRange, Gateway, AuxiliaryAddresses}], Options},
 * Options, Labels, CheckDuplicate}`. A name in use is refused whatever CheckDuplicate says, as dockerd
 * answers API 1.44 and later.
 */
export async function networkCreate(ctx: Ctx): Promise<void> {
  const body = await ctx.json();
  const W = 'NetworkCreateRequest';
  const name = field<string>(body, 'Name', 'string', `${W}.Name`);
  if (!name) throw new InvalidArgument('network name is required');
  const ipam = field<Record<string, unknown>>(body, 'IPAM', 'object', `${W}.IPAM`) ?? {};
  const config = field<unknown[]>(ipam, 'Config', 'array', `${W}.IPAM.Config`) ?? [];
  const pools = config.map((c, i) => {
    const at = `${W}.IPAM.Config[${i}]`;
    const e = typed<Record<string, unknown>>(c, 'object', at) ?? {};
    return {
      subnet: field<string>(e, 'Subnet', 'string', `${at}.Subnet`) ?? '',
      gateway: field<string>(e, 'Gateway', 'string', `${at}.Gateway`),
      ipRange: field<string>(e, 'IPRange', 'string', `${at}.IPRange`),
      aux: stringMap(e, 'AuxiliaryAddresses', `${at}.AuxiliaryAddresses`),
    };
  });
  const configFrom = field<Record<string, unknown>>(body, 'ConfigFrom', 'object', `${W}.ConfigFrom`);
  const net = await createUserNetwork(ctx.engine, {
    name,
    driver: field<string>(body, 'Driver', 'string', `${W}.Driver`),
    pools,
    ipamDriver: field<string>(ipam, 'Driver', 'string', `${W}.IPAM.Driver`),
    ipamOptions: stringMap(ipam, 'Options', `${W}.IPAM.Options`),
    ipv6: field<boolean>(body, 'EnableIPv6', 'bool', `${W}.EnableIPv6`),
    ipv4: field<boolean>(body, 'EnableIPv4', 'bool', `${W}.EnableIPv4`),
    internal: field<boolean>(body, 'Internal', 'bool', `${W}.Internal`),
    attachable: field<boolean>(body, 'Attachable', 'bool', `${W}.Attachable`),
    ingress: field<boolean>(body, 'Ingress', 'bool', `${W}.Ingress`),
    scope: field<string>(body, 'Scope', 'string', `${W}.Scope`),
    configOnly: field<boolean>(body, 'ConfigOnly', 'bool', `${W}.ConfigOnly`),
    configFrom: configFrom ? String(configFrom.Network ?? '') : undefined,
    labels: stringMap(body, 'Labels', `${W}.Labels`),
    options: stringMap(body, 'Options', `${W}.Options`),
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

/** docker's EndpointSettings as the engine's endpoint options (connect's EndpointConfig, create's EndpointsConfig). */
export function endpointOptions(v: unknown, path: string): EndpointOptions {
  const ep = typed<Record<string, unknown>>(v, 'object', path) ?? {};
  const ipam = field<Record<string, unknown>>(ep, 'IPAMConfig', 'object', `${path}.IPAMConfig`) ?? {};
  const strings = (o: Record<string, unknown>, k: string, at: string) => {
    const l = stringList(o, k, at);
    return l && l.length > 0 ? l : undefined;
  };
  const out: EndpointOptions = {
    aliases: strings(ep, 'Aliases', `${path}.Aliases`),
    links: strings(ep, 'Links', `${path}.Links`),
    ip: field<string>(ipam, 'IPv4Address', 'string', `${path}.IPAMConfig.IPv4Address`) || undefined,
    ip6: field<string>(ipam, 'IPv6Address', 'string', `${path}.IPAMConfig.IPv6Address`) || undefined,
    linkLocalIps: strings(ipam, 'LinkLocalIPs', `${path}.IPAMConfig.LinkLocalIPs`),
    mac: field<string>(ep, 'MacAddress', 'string', `${path}.MacAddress`) || undefined,
    driverOpts: ((m) => (m && Object.keys(m).length > 0 ? m : undefined))(stringMap(ep, 'DriverOpts', `${path}.DriverOpts`)),
    gwPriority: field<number>(ep, 'GwPriority', 'number', `${path}.GwPriority`) || undefined,
  };
  for (const k of Object.keys(out) as (keyof EndpointOptions)[]) if (out[k] === undefined) delete out[k];
  return out;
}

/** `POST /networks/{id}/connect` `{Container, EndpointConfig:{Aliases, Links, IPAMConfig:{IPv4Address, IPv6Address, LinkLocalIPs}, MacAddress}}` */
export async function networkConnect(ctx: Ctx): Promise<void> {
  const body = await ctx.json();
  const container = str(body.Container);
  if (!container) throw new InvalidArgument('a container is required');
  const n = findNet(ctx, ctx.params[0]!);
  await connectNetwork(ctx.engine, container, n.name, endpointOptions(body.EndpointConfig, 'NetworkConnect.EndpointConfig'));
  ctx.send(200);
}

/** `POST /networks/{id}/disconnect` `{Container, Force}`: with Force, a network or container already gone is no error. */
export async function networkDisconnect(ctx: Ctx): Promise<void> {
  const body = await ctx.json();
  const container = str(body.Container);
  if (!container) throw new InvalidArgument('a container is required');
  const force = body.Force === true;
  const ref = ctx.params[0]!;
  const n = force ? allNetworks(ctx.engine).find((x) => x.name === ref || x.id === ref || x.id.startsWith(ref)) : findNet(ctx, ref);
  if (force) await ctx.engine.repair();
  await disconnectNetwork(ctx.engine, container, n?.name ?? ref, force);
  ctx.send(200);
}

/**
 * `DELETE /containers/{name}?link=true` (`docker rm --link /parent/alias`): the legacy link `alias` of
 * container `parent` goes; neither container does.
 */
export async function linkRemove(ctx: Ctx): Promise<void> {
  const name = decodeURIComponent(ctx.params[0]!);
  // Without link=true a path like this names no container (links are not containers here).
  if (!ctx.qbool('link')) throw new NoSuchContainer(name);
  await unlink(ctx.engine, name);
  ctx.send(204);
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

