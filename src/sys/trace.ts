/** BERTH_TRACE=1 prints the time of each step of a command to stderr: the bench's microscope. */
const on = process.env.BERTH_TRACE === '1';
const t0 = on ? performance.now() : 0;

export function trace(label: string): void {
  if (on) process.stderr.write(`berth-trace ${(performance.now()).toFixed(1)}ms (+${(performance.now() - t0).toFixed(1)}) ${label}\n`);
}
