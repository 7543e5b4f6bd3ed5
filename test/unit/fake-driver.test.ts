/**
 * The driver contract (test/contract/driver.ts) run against FakeDriver: its processes are plain host
 * processes in a busybox rootfs, its monitor in memory, so it needs no mounts, namespaces or cgroups.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FakeDriver } from '../../src/runtime/fake.ts';
import { driverContract } from '../contract/driver.ts';
import { REPO } from '../integration/helpers.ts';

driverContract('FakeDriver', () => {
  const driver = new FakeDriver();
  const dir = mkdtempSync('/tmp/berth-test-fake-rootfs-');
  const rootfs = join(dir, 'rootfs');
  const mk = spawnSync('bash', ['-c', `"${REPO}/scripts/mkimage-busybox" "${dir}/bb.tar" && mkdir "${rootfs}" && tar -xf "${dir}/bb.tar" -C "${rootfs}"`], { encoding: 'utf8' });
  if (mk.status !== 0) throw new Error(`busybox rootfs: ${mk.stderr}`);
  return {
    driver,
    bundle(bundle, _id, args) {
      const spec = { root: { path: rootfs }, process: { terminal: false, user: { uid: 0, gid: 0 }, args, env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], cwd: '/' } };
      writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec));
    },
    cleanup() {
      driver.shutdown();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
