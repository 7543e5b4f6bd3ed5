/** BERTH_TRACE=1 (or the CLI's -D / --log-level debug) prints the time of each step of a command to stderr. */
let on = process.env.BERTH_TRACE === '1';
let t0 = on ? performance.now() : 0;

/** Turn tracing on from here (the CLI's debug flags, read after the modules loaded). */
export function enableTrace(): void {
  if (on) return;
  on = true;
  t0 = performance.now();
}

export function trace(label: string): void {
  if (on) process.stderr.write(`berth-trace ${(performance.now()).toFixed(1)}ms (+${(performance.now() - t0).toFixed(1)}) ${label}\n`);
}
