/** classifyRuntimeError: 127/126 only for the container's command, 125 for every other runtime failure. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CannotInvoke, CommandNotFound, RuntimeFailure, classifyRuntimeError } from '../../src/errors.ts';

const cases: [text: string, want: typeof RuntimeFailure | typeof CommandNotFound | typeof CannotInvoke][] = [
  // runc 1.1, as seen here
  ['runc create failed: unable to start container process: exec: "nope": executable file not found in $PATH', CommandNotFound],
  ['runc create failed: unable to start container process: exec: "/nope": stat /nope: no such file or directory', CommandNotFound],
  ['runc create failed: unable to start container process: exec: "/etc": permission denied', CannotInvoke],
  ['exec failed: unable to start container process: exec: "/bin.sh": exec format error', CannotInvoke],
  // crun's forms of the same
  ['executable file `nope` not found in $PATH: No such file or directory', CommandNotFound],
  ['open executable: Permission denied', CannotInvoke],
  // failures that mention a missing file or a refusal but are not the command's: the engine's, 125
  [
    'runc create failed: unable to start container process: error during container init: error setting cgroup config for procHooks process: openat2 /sys/fs/cgroup/blkio/berth/abc/blkio.bfq.weight: no such file or directory',
    RuntimeFailure,
  ],
  ['runc create failed: unable to start container process: error during container init: error setting rlimit type 7: operation not permitted', RuntimeFailure],
  ['crun: open `/sys/fs/cgroup/pids/berth/x/pids.max`: No such file or directory', RuntimeFailure],
  ['conmon exited before the runtime reported a pid', RuntimeFailure],
];

test('runtime failures map to docker exit codes by what failed, not by words anywhere in the text', () => {
  for (const [text, want] of cases) {
    const e = classifyRuntimeError(text);
    assert.equal(e.constructor, want, text);
    assert.equal(e.message, text);
  }
  assert.equal(classifyRuntimeError(cases[0]![0]).exitCode, 127);
  assert.equal(classifyRuntimeError(cases[2]![0]).exitCode, 126);
  assert.equal(classifyRuntimeError(cases[6]![0]).exitCode, 125);
});
