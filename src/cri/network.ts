/**
 * The network the CRI's pods are on: a Berth bridge network (`cri` unless `berth serve --cri-network` names
 * another), made with the pod subnet on the first sandbox that needs it and kept after, as a CNI config is.
 */
import { AlreadyExists, NotFound } from '../errors.ts';
import type { Engine } from '../engine/engine.ts';
import { createUserNetwork, findNetwork } from '../engine/networks.ts';

export const DEFAULT_CRI_NETWORK = 'cri';
export const DEFAULT_POD_SUBNET = '10.99.0.0/16';

export class CriNetwork {
  readonly network: string;
  readonly subnet: string;

  constructor(network = DEFAULT_CRI_NETWORK, subnet = DEFAULT_POD_SUBNET) {
    this.network = network;
    this.subnet = subnet;
  }

  /** The network's name, made first if it does not exist yet. */
  async name(engine: Engine): Promise<string> {
    try {
      return findNetwork(engine, this.network).name;
    } catch (e) {
      if (!(e instanceof NotFound)) throw e;
    }
    try {
      await createUserNetwork(engine, { name: this.network, pools: [{ subnet: this.subnet }], labels: { 'io.berth.cri': 'pod-network' } });
    } catch (e) {
      // Another sandbox made it meanwhile.
      if (!(e instanceof AlreadyExists)) throw e;
    }
    return this.network;
  }
}
