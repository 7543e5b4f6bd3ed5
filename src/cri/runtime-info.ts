/** The CRI's Version, Status, RuntimeConfig and UpdateRuntimeConfig: what this runtime is and whether it is ready. */
import type { Engine } from '../engine/engine.ts';
import { BERTH_VERSION } from '../engine/info.ts';

export function version() {
  return { version: '0.1.0', runtime_name: 'berth', runtime_version: BERTH_VERSION, runtime_api_version: 'v1' };
}

/** Ready when an OCI runtime can run containers here; the network is Berth's own bridge, always there. */
export function status(engine: Engine, verbose: boolean) {
  const { chosen, why } = engine.runtimes();
  const runtimeReady = chosen?.usable === true;
  return {
    status: {
      conditions: [
        { type: 'RuntimeReady', status: runtimeReady, reason: runtimeReady ? '' : 'NoRuntime', message: runtimeReady ? '' : why },
        { type: 'NetworkReady', status: true, reason: '', message: '' },
      ],
    },
    info: verbose ? { config: JSON.stringify({ runtime: chosen?.name ?? '', why, cgroupVersion: engine.cgroups().version }) } : {},
  };
}

/** Berth writes cgroups through cgroupfs paths (not systemd units): kubelet must use the same driver. */
export function runtimeConfig() {
  return { linux: { cgroup_driver: 'CGROUPFS' } };
}
