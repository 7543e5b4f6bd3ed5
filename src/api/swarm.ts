/**
 * Swarm mode and plugins, as dockerd answers on a node outside a swarm with no plugin installed: every
 * swarm object (nodes, services, tasks, secrets, configs, the swarm itself) is a 503 saying so, which SDKs'
 * clean-up code expects; the plugin list is empty and a named plugin is not found. Joining or making a swarm
 * and installing a plugin are refused: Berth runs neither.
 */
import { NOT_A_SWARM_MANAGER, NotFound, NotSupported, Unavailable } from '../errors.ts';
import type { Ctx } from './http.ts';

/** Any swarm object's endpoint. */
export async function notManager(_ctx: Ctx): Promise<void> {
  throw new Unavailable(NOT_A_SWARM_MANAGER);
}

/** `POST /swarm/leave` */
export async function leave(_ctx: Ctx): Promise<void> {
  throw new Unavailable('This node is not part of a swarm');
}

/** `POST /swarm/init`, `POST /swarm/join` */
export async function noSwarmMode(_ctx: Ctx): Promise<void> {
  throw new NotSupported('Berth does not run swarm mode: it runs containers on this node only');
}

/** `GET /plugins` */
export async function plugins(ctx: Ctx): Promise<void> {
  ctx.send(200, []);
}

/** A named plugin's endpoints: inspect, remove, enable, disable, upgrade, push, set. */
export async function noSuchPlugin(ctx: Ctx): Promise<void> {
  throw new NotFound(`plugin "${ctx.params[0]}" not found`);
}

/** `GET /plugins/privileges`, `POST /plugins/pull`, `POST /plugins/create` */
export async function noPlugins(_ctx: Ctx): Promise<void> {
  throw new NotSupported('Berth does not run plugins: volumes use the local driver, networks bridge, host and none');
}

/** `PUT /volumes/{name}`: only swarm (cluster) volumes can be updated. */
export async function volumeUpdate(_ctx: Ctx): Promise<void> {
  throw new Unavailable('volume update only valid for cluster volumes, but swarm is unavailable');
}
