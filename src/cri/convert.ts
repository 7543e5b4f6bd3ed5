/** Small conversions between Berth's records and the CRI's messages (times, filters, states). */
import type { ContainerRow } from '../store/containers.ts';

/** An ISO time (Berth's records) as the CRI's int64 nanoseconds since the epoch, a decimal string; '0' for none. */
export function nanos(iso: string | undefined): string {
  if (!iso) return '0';
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return '0';
  // Sub-millisecond digits, when the record has them (a monitor's exit time), are kept.
  const frac = /\.(\d+)Z$/.exec(iso)?.[1] ?? '';
  const subMs = frac.length > 3 ? BigInt(frac.slice(3, 9).padEnd(6, '0')) : 0n;
  return String(BigInt(ms) * 1_000_000n + subMs);
}

export const nowNanos = (): string => String(BigInt(Date.now()) * 1_000_000n);

/** An int64 the client sent (a string with proto-loader's `longs: String`, or a number). */
export const int64 = (v: unknown): number => (v === undefined || v === null || v === '' ? 0 : Number(v));

/** A label selector matches when every key it names has its value. */
export function selects(labels: Record<string, string>, selector: Record<string, string> | undefined): boolean {
  return Object.entries(selector ?? {}).every(([k, v]) => labels[k] === v);
}

/** The CRI's container state of a Berth container. */
export function containerState(row: Pick<ContainerRow, 'state'>): string {
  switch (row.state) {
    case 'created':
    case 'creating':
      return 'CONTAINER_CREATED';
    case 'running':
    case 'paused':
      return 'CONTAINER_RUNNING';
    case 'exited':
      return 'CONTAINER_EXITED';
    default:
      return 'CONTAINER_UNKNOWN';
  }
}
