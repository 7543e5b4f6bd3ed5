import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgument } from '../../src/errors.ts';
import { keepIdMapping, parseUserns } from '../../src/runtime/spec/userns.ts';
import { rootlessIds } from '../../src/sys/user-namespace.ts';
import { addKeepIdEntries, hostUser, keepIdLines } from '../../src/engine/keep-id.ts';

test("keepIdMapping: the user's id kept, the ids below it shifted up by one, the rest in place", () => {
  assert.deepEqual(parseUserns('keep-id'), { kind: 'keep-id' });
  assert.deepEqual(keepIdMapping(1002, 65537, 'uid'), [
    { containerID: 0, hostID: 1, size: 1002 },
    { containerID: 1002, hostID: 0, size: 1 },
    { containerID: 1003, hostID: 1003, size: 64534 },
  ]);
  // Every id of the namespace is used once.
  const total = keepIdMapping(1002, 65537, 'gid').reduce((n, m) => n + m.size, 0);
  assert.equal(total, 65537);
  assert.deepEqual(keepIdMapping(0, 10, 'uid'), [{ containerID: 0, hostID: 0, size: 1 }, { containerID: 1, hostID: 1, size: 9 }]);
  assert.deepEqual(keepIdMapping(9, 10, 'uid'), [{ containerID: 0, hostID: 1, size: 9 }, { containerID: 9, hostID: 0, size: 1 }]);
  assert.throws(() => keepIdMapping(1002, 1000, 'uid'), (e: Error) => e instanceof InvalidArgument && /uid 1002 cannot keep its id: .*ids 0-999 \(999 subordinate uids/.test(e.message));
});

test("rootlessIds: the user's uid and gid and how many ids its namespace holds; none for the host's root", () => {
  const uidMap = '         0       1002          1\n         1     165536      65536\n';
  const gidMap = '         0       1003          1\n         1     165536      65536\n';
  assert.deepEqual(rootlessIds(uidMap, gidMap), { uid: 1002, gid: 1003, uidCount: 65537, gidCount: 65537 });
  assert.equal(rootlessIds('0 0 4294967295', '0 0 4294967295'), undefined);
});

test("keepIdLines: a passwd and a group line only for ids the image lacks; hostUser from the host's files", () => {
  const u = { uid: 1002, gid: 1002, name: 'ann', group: 'ann', home: '/home/ann' };
  assert.deepEqual(keepIdLines('root:x:0:0:root:/root:/bin/sh\n', 'root:x:0:\n', u), {
    passwd: 'ann:*:1002:1002:ann:/home/ann:/bin/sh\n',
    group: 'ann:x:1002:ann\n',
  });
  assert.deepEqual(keepIdLines('other:x:1002:1002::/:/bin/sh\n', 'other:x:1002:\n', u), {});
  const etc = mkdtempSync(join(tmpdir(), 'keepid-etc-'));
  try {
    writeFileSync(join(etc, 'passwd'), 'ann:x:1002:1002:Ann:/home/ann:/bin/bash\n');
    writeFileSync(join(etc, 'group'), 'staff:x:1002:\n');
    assert.deepEqual(hostUser(1002, 1002, etc, {}), { uid: 1002, gid: 1002, name: 'ann', group: 'staff', home: '/home/ann' });
    assert.deepEqual(hostUser(4000, 4000, etc, { HOME: '/h' }), { uid: 4000, gid: 4000, name: '4000', group: '4000', home: '/h' });
  } finally {
    rmSync(etc, { recursive: true, force: true });
  }
});

test('addKeepIdEntries: appends to the rootfs files, makes missing ones, leaves a symlink out alone', () => {
  const root = mkdtempSync(join(tmpdir(), 'keepid-root-'));
  const outside = mkdtempSync(join(tmpdir(), 'keepid-out-'));
  const u = { uid: 1002, gid: 1002, name: 'ann', group: 'ann', home: '/home/ann' };
  const me = [{ containerID: 0, hostID: process.getuid!(), size: 1 }];
  const myGid = [{ containerID: 0, hostID: process.getgid!(), size: 1 }];
  try {
    mkdirSync(join(root, 'etc'));
    writeFileSync(join(root, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh');
    addKeepIdEntries(root, u, me, myGid);
    assert.equal(readFileSync(join(root, 'etc', 'passwd'), 'utf8'), 'root:x:0:0:root:/root:/bin/sh\nann:*:1002:1002:ann:/home/ann:/bin/sh\n');
    assert.equal(readFileSync(join(root, 'etc', 'group'), 'utf8'), 'ann:x:1002:ann\n');
    addKeepIdEntries(root, u, me, myGid); // once only
    assert.equal(readFileSync(join(root, 'etc', 'group'), 'utf8'), 'ann:x:1002:ann\n');
    // An absolute symlink resolves inside the rootfs, never to the host's file.
    writeFileSync(join(outside, 'passwd'), 'host\n');
    rmSync(join(root, 'etc', 'passwd'));
    symlinkSync(join(outside, 'passwd'), join(root, 'etc', 'passwd'));
    addKeepIdEntries(root, { ...u, uid: 7, gid: 7 }, me, myGid);
    assert.equal(readFileSync(join(outside, 'passwd'), 'utf8'), 'host\n');
  } finally {
    rmSync(root, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  }
});
