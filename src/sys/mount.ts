/**
 * Mounting. Spawning mount(8) costs ~2 ms here, below what loading an FFI library costs (~20 ms) on a
 * CLI's start-up, so the hot path spawns the tools; a server that loaded the system calls makes them
 * instead (src/sys/mount-calls.ts).
 */
import { readFileSync } from 'node:fs';
import { MNT_DETACH, MS_NODEV, MS_NOEXEC, MS_NOSUID, mountCalls } from './mount-calls.ts';
import { run } from './run.ts';

/** The option words mount(8) turns into flags, of those the engine's own tmpfs mounts use. */
const FLAG_WORDS: Record<string, number> = { nosuid: MS_NOSUID, nodev: MS_NODEV, noexec: MS_NOEXEC };

/**
 * Mount an overlay. With `base`, lower dirs under it are named relative to it and mount(8) runs there:
 * the option string must fit in a page, and deep images have many lower dirs.
 */
export async function mountOverlay(lower: string[], upper: string, work: string, target: string, base?: string): Promise<void> {
  const prefix = base ? `${base.replace(/\/+$/, '')}/` : '';
  const lowers = lower.map((l) => (prefix && l.startsWith(prefix) ? l.slice(prefix.length) : l));
  const opts = `lowerdir=${lowers.join(':')},upperdir=${upper},workdir=${work}`;
  if (opts.length > 4000) throw new Error(`mount overlay on ${target}: too many layers (${lower.length}) for one overlay mount`);
  const calls = mountCalls();
  // The call has no working directory of its own to spare: it names every dir in full, when that fits a page.
  const whole = `lowerdir=${lower.join(':')},upperdir=${upper},workdir=${work}`;
  if (calls && whole.length <= 4000) {
    try {
      calls.mount('overlay', target, 'overlay', 0, whole);
      return;
    } catch (e) {
      throw new Error(`mount overlay on ${target}: ${(e as Error).message}`);
    }
  }
  const r = await run('mount', ['-t', 'overlay', 'overlay', '-o', opts, target], base ? { cwd: base } : {});
  if (r.code !== 0) throw new Error(`mount overlay on ${target}: ${r.stderr.trim() || `exit ${r.code}`}`);
}

/** mount(8) with a type, source and option string (a volume's `--opt type=… device=… o=…`). */
export async function mountFs(type: string, source: string, target: string, options: string): Promise<void> {
  const calls = mountCalls();
  // A tmpfs needs no helper: with the calls loaded, its flag words become flags and the rest its data.
  const words = options ? options.split(',') : [];
  const data = words.filter((w) => !(w in FLAG_WORDS));
  if (calls && type === 'tmpfs' && data.every((w) => w.includes('='))) {
    try {
      calls.mount(source, target, type, words.reduce((f, w) => f | (FLAG_WORDS[w] ?? 0), 0), data.join(','));
      return;
    } catch (e) {
      throw new Error(`mount ${source} on ${target}: ${(e as Error).message}`);
    }
  }
  const args = ['-t', type, source, target];
  if (options) args.push('-o', options);
  const r = await run('mount', args);
  if (r.code !== 0) throw new Error(`mount ${source} on ${target}: ${r.stderr.trim() || `exit ${r.code}`}`);
}

/**
 * Unmount; a path that is not mounted is not an error. `known` skips reading the mount table first when
 * the caller's records say it is mounted.
 */
export async function unmount(target: string, known = false): Promise<void> {
  if (!known && !isMounted(target)) return;
  const calls = mountCalls();
  if (calls) {
    // Busy: detached, as `umount -l` does; not a mount point (EINVAL) is what the table says below.
    if (calls.umount(target, 0) === 0) return;
    if (!isMounted(target) || calls.umount(target, MNT_DETACH) === 0 || !isMounted(target)) return;
    throw new Error(`umount ${target}: still mounted`);
  }
  let r = await run('umount', [target]);
  if (r.code !== 0 && isMounted(target)) r = await run('umount', ['-l', target]);
  if (r.code !== 0 && isMounted(target)) throw new Error(`umount ${target}: ${r.stderr.trim()}`);
}

/** Mount points from /proc/self/mountinfo (field 5), with octal escapes decoded. */
export function mountPoints(): string[] {
  const text = readFileSync('/proc/self/mountinfo', 'utf8');
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' ')[4]!.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))));
}

export function isMounted(target: string): boolean {
  return mountPoints().includes(target);
}

/** The filesystem `path` is on (the deepest mount holding it): its type and whether it has project quotas. */
export function filesystemOf(path: string): { type: string; projectQuota: boolean } {
  let best = { point: '', type: 'unknown', options: '' };
  for (const l of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    if (!l) continue;
    const f = l.split(' ');
    const point = f[4]!.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    const sep = f.indexOf('-');
    const inside = path === point || path.startsWith(point.endsWith('/') ? point : `${point}/`);
    if (inside && point.length >= best.point.length) best = { point, type: f[sep + 1] ?? 'unknown', options: `${f[5]},${f[sep + 3] ?? ''}` };
  }
  return { type: best.type, projectQuota: /(^|,)(prjquota|pquota)(,|$)/.test(best.options) };
}
