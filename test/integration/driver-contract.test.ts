/**
 * The driver contract (test/contract/driver.ts) run against the real OciDriver: the runtime this host
 * chooses (crun, through berth-v1-view on this hybrid host) under conmon, with bundles from the runtime's own
 * default spec over a read-only busybox rootfs.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OciDriver } from '../../src/runtime/oci.ts';
import { chooseRuntime, probeRuntimes } from '../../src/runtime/probe.ts';
import { driverContract } from '../contract/driver.ts';
import { REPO } from './helpers.ts';

const { chosen } = chooseRuntime(probeRuntimes());
if (!chosen) throw new Error('no usable OCI runtime on this host');

driverContract(`OciDriver (${chosen.name} under conmon)`, () => {
  const driver = OciDriver.of(chosen);
  const dir = mkdtempSync('/tmp/berth-test-oci-rootfs-');
  const rootfs = join(dir, 'rootfs');
  const mk = spawnSync('bash', ['-c', `"${REPO}/scripts/mkimage-busybox" "${dir}/bb.tar" && mkdir "${rootfs}" && tar -xf "${dir}/bb.tar" -C "${rootfs}" && cd "${dir}" && "${chosen.path}" spec`], { encoding: 'utf8' });
  if (mk.status !== 0) throw new Error(`bundle template: ${mk.stderr}`);
  const template = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, any>;
  return {
    driver,
    bundle(bundle, id, args) {
      const spec = structuredClone(template);
      spec.root = { path: rootfs, readonly: true };
      spec.process.terminal = false;
      spec.process.args = args;
      // Under Berth's parent, where the suite's leak check looks.
      spec.linux.cgroupsPath = `/berth/${id}`;
      writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec));
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
