import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readDaemonConfig } from '../../src/engine/daemon-config.ts';
import { chooseStorageDriver, parseStorageDriver, type StorageHost } from '../../src/engine/storage-driver.ts';

const host = (o: Partial<StorageHost>): StorageHost => ({ rootless: true, kernel: [6, 1], fuseOverlayfs: '/usr/bin/fuse-overlayfs', devFuse: { usable: true }, ...o });

test("the host's best: overlay for root and for a user on 5.11 and later, fuse-overlayfs for a user before", () => {
  assert.deepEqual(chooseStorageDriver(undefined, host({ rootless: false, kernel: [4, 19] })), { name: 'overlay', why: "the kernel's overlay" });
  assert.deepEqual(chooseStorageDriver(undefined, host({ kernel: [5, 11] })), { name: 'overlay', why: 'kernel 5.11 mounts overlay in a user namespace (5.11 and later)' });
  assert.deepEqual(chooseStorageDriver(undefined, host({ kernel: [5, 10] })), { name: 'fuse-overlayfs', why: 'kernel 5.10 refuses overlay in a user namespace (before 5.11)' });
});

test('fuse-overlayfs that cannot mount: the one line names the fix', () => {
  const closed = chooseStorageDriver(undefined, host({ kernel: [5, 4], devFuse: { usable: false, mode: '0600' } }));
  assert.equal(closed.name, 'fuse-overlayfs');
  assert.equal(closed.problem, "storage driver fuse-overlayfs (kernel 5.4 refuses overlay in a user namespace (before 5.11)): /dev/fuse is mode 0600 here, so this user cannot open it: a root user opens it with chmod 0666 /dev/fuse (Debian's default)");
  const missing = chooseStorageDriver({ name: 'fuse-overlayfs', by: '--storage-driver' }, host({ fuseOverlayfs: undefined }));
  assert.equal(missing.problem, 'storage driver fuse-overlayfs (asked for by --storage-driver): fuse-overlayfs is not installed (apt-get install fuse-overlayfs)');
  assert.match(chooseStorageDriver({ name: 'fuse-overlayfs', by: 'x' }, host({ devFuse: { usable: false } })).problem!, /no \/dev\/fuse: a root user loads the fuse module/);
  assert.equal(chooseStorageDriver({ name: 'fuse-overlayfs', by: 'x' }, host({})).problem, undefined);
});

test('a driver asked for wins; overlay asked for on an old kernel says it cannot mount', () => {
  assert.deepEqual(chooseStorageDriver({ name: 'overlay', by: '--storage-driver' }, host({ kernel: [6, 18] })), { name: 'overlay', why: 'asked for by --storage-driver' });
  assert.match(chooseStorageDriver({ name: 'overlay', by: 'x' }, host({ kernel: [5, 4] })).problem!, /kernel 5\.4 refuses overlay in a user namespace .*use fuse-overlayfs/);
  assert.equal(parseStorageDriver('overlay2', 'x'), 'overlay');
  assert.throws(() => parseStorageDriver('zfs', '--storage-driver'), /--storage-driver: unknown storage driver "zfs": overlay \(or overlay2\) or fuse-overlayfs$/);
});

test('daemon.json\'s "storage-driver" is read and checked', () => {
  const dir = mkdtempSync(join(tmpdir(), 'storage-cfg-'));
  try {
    writeFileSync(join(dir, 'daemon.json'), '{"storage-driver": "fuse-overlayfs"}');
    assert.equal(readDaemonConfig(dir, '/nonexistent').storageDriver, 'fuse-overlayfs');
    writeFileSync(join(dir, 'daemon.json'), '{"storage-driver": "btrfs"}');
    assert.throws(() => readDaemonConfig(dir, '/nonexistent'), /daemon\.json: "storage-driver": unknown storage driver "btrfs"/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
