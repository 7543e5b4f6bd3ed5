/**
 * BERTH_TRACE=1 (or the CLI's -D / --log-level debug) prints the time of each step of a command to stderr;
 * BERTH_TRACE=rss adds the process's resident set size at each step, to see which step grows the CLI.
 */
let on = process.env.BERTH_TRACE === '1' || process.env.BERTH_TRACE === 'rss';
const withRss = process.env.BERTH_TRACE === 'rss';
let t0 = on ? performance.now() : 0;

/** Turn tracing on from here (the CLI's debug flags, read after the modules loaded). */
export function enableTrace(): void {
  if (on) return;
  on = true;
  t0 = performance.now();
}

export function trace(label: string): void {
  if (!on) return;
  const rss = withRss ? ` rss ${(process.memoryUsage.rss() / 2 ** 20).toFixed(1)} MiB` : '';
  process.stderr.write(`berth-trace ${performance.now().toFixed(1)}ms (+${(performance.now() - t0).toFixed(1)})${rss} ${label}\n`);
}
