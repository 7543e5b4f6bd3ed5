/**
 * An overlay made by fuse-overlayfs, for a user namespace whose kernel will not mount overlay itself. The
 * program mounts and then stays as the FUSE daemon in the background (its stdio on /dev/null), serving the
 * mount until it is unmounted: umount(8) or umount2(2) as root of the mount's namespace ends it, as for a
 * kernel overlay (src/sys/mount.ts's unmount). It adds allow_other and default_permissions itself when it
 * runs as root (of its namespace), so the container's other ids reach the files and the kernel checks modes.
 */
import { run } from './run.ts';

export async function mountFuseOverlay(program: string, lower: string[], upper: string, work: string, target: string): Promise<void> {
  const opts = `lowerdir=${lower.join(':')},upperdir=${upper},workdir=${work}`;
  const r = await run(program, ['-o', opts, target]);
  if (r.code === 0) return;
  // Its own notes (an ignored option) come before the reason; the last line is the reason.
  const lines = r.stderr.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('unknown argument ignored'));
  throw new Error(`fuse-overlayfs on ${target}: ${lines.join(': ') || `exit ${r.code}`}`);
}
