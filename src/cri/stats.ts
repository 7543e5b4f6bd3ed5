/**
 * The CRI's container and sandbox statistics, from the same cgroup and /proc reads as `berth stats`
 * (src/engine/stats.ts): CPU time and rate, memory use and working set, the writable layer's size, and for a
 * sandbox its network counters and process count. Created and stopped containers report zeros, as listed.
 */
import type { Engine } from '../engine/engine.ts';
import { containerSizes } from '../engine/diff.ts';
import { statsSnapshot, type DockerStats } from '../engine/stats.ts';
import type { ContainerRow } from '../store/containers.ts';
import type { PodRow } from '../store/pods.ts';
import { nowNanos } from './convert.ts';

/** The previous CPU reading per container, for usage_nano_cores (a rate needs two readings, as in containerd). */
const lastCpu = new Map<string, { atNs: bigint; usageNs: number }>();

const u64 = (n: number | undefined) => ({ value: String(Math.max(0, Math.round(n ?? 0))) });

function cpuAndMemory(id: string, s: DockerStats, timestamp: string) {
  const usage = s.cpu_stats.cpu_usage.total_usage;
  const at = BigInt(timestamp);
  const prev = lastCpu.get(id);
  lastCpu.set(id, { atNs: at, usageNs: usage });
  const nanoCores = prev && at > prev.atNs ? ((usage - prev.usageNs) * 1e9) / Number(at - prev.atNs) : 0;
  const m = s.memory_stats;
  const st = m.stats ?? {};
  const inactive = st.total_inactive_file ?? st.inactive_file ?? 0;
  const used = m.usage ?? 0;
  const workingSet = Math.max(0, used - inactive);
  const limit = m.limit ?? 0;
  return {
    cpu: { timestamp, usage_core_nano_seconds: u64(usage), usage_nano_cores: u64(nanoCores) },
    memory: {
      timestamp,
      working_set_bytes: u64(workingSet),
      available_bytes: u64(limit > 0 && limit < 2 ** 62 ? limit - workingSet : 0),
      usage_bytes: u64(used),
      rss_bytes: u64(st.total_rss ?? st.rss ?? st.anon ?? 0),
      page_faults: u64(st.total_pgfault ?? st.pgfault ?? 0),
      major_page_faults: u64(st.total_pgmajfault ?? st.pgmajfault ?? 0),
    },
  };
}

export function containerStats(engine: Engine, row: ContainerRow) {
  const timestamp = nowNanos();
  const s = statsSnapshot(row, engine.cgroups());
  const cri = row.config.cri!;
  let used = 0;
  try {
    used = containerSizes(engine, row.id).rw;
  } catch {
    // removed meanwhile
  }
  return {
    attributes: { id: row.id, metadata: { name: cri.name, attempt: cri.attempt }, labels: cri.labels, annotations: cri.annotations },
    ...cpuAndMemory(row.id, s, timestamp),
    writable_layer: { timestamp, fs_id: { mountpoint: engine.dir(row.id) }, used_bytes: u64(used), inodes_used: u64(0) },
  };
}

export function sandboxStats(engine: Engine, pod: PodRow, containers: ContainerRow[]) {
  const timestamp = nowNanos();
  const { infra } = engine.podContainers(pod.id);
  // The pod's network as its infra container sees it, or (pinned: none) as its running containers do.
  const running = containers.filter((r) => r.state === 'running');
  const holders = infra ? [infra] : running;
  const snaps = holders.map((r) => statsSnapshot(r, engine.cgroups()));
  const s = snaps[0];
  const processes = snaps.reduce((n, x) => n + (x.pids_stats.current ?? 0), 0);
  const nets = Object.entries(s?.networks ?? {}).map(([name, n]) => ({ name, rx_bytes: u64(n.rx_bytes), rx_errors: u64(n.rx_errors), tx_bytes: u64(n.tx_bytes), tx_errors: u64(n.tx_errors) }));
  const c = pod.config.cri!;
  const ctrStats = containers.map((r) => containerStats(engine, r));
  const sum = (f: (x: ReturnType<typeof containerStats>) => { value: string }) => u64(ctrStats.reduce((n, x) => n + Number(f(x).value), 0));
  return {
    attributes: { id: pod.id, metadata: { name: c.name, uid: c.uid, namespace: c.namespace, attempt: c.attempt }, labels: pod.config.labels, annotations: c.annotations },
    linux: {
      cpu: { timestamp, usage_core_nano_seconds: sum((x) => x.cpu.usage_core_nano_seconds), usage_nano_cores: sum((x) => x.cpu.usage_nano_cores) },
      memory: { timestamp, working_set_bytes: sum((x) => x.memory.working_set_bytes), usage_bytes: sum((x) => x.memory.usage_bytes), rss_bytes: sum((x) => x.memory.rss_bytes), available_bytes: u64(0), page_faults: u64(0), major_page_faults: u64(0) },
      network: { timestamp, default_interface: nets.find((n) => n.name === 'eth0') ?? null, interfaces: nets },
      process: { timestamp, process_count: u64(processes) },
      containers: ctrStats,
    },
  };
}
