/**
 * A build's progress on stderr, as `docker build` shows it. Plain (a pipe, a log, `--progress plain`):
 * `#N [stage k/total] INSTRUCTION`, the step's output with the seconds since it started, then `#N CACHED`
 * or `#N DONE 0.4s`. A terminal (`auto` on a tty, or `--progress tty`) gets a compact live view: a step's
 * line once it is done, and below them the running steps with their last lines of output, redrawn in place.
 */
import type { BuildEvent } from '../engine/build/options.ts';

export function buildPrinter(out: NodeJS.WriteStream = process.stderr, mode = 'auto'): (e: BuildEvent) => void {
  const tty = mode === 'tty' || (mode === 'auto' && out.isTTY === true);
  return tty ? liveView(out) : plain(out);
}

function plain(out: NodeJS.WritableStream): (e: BuildEvent) => void {
  const started = new Map<number, number>();
  const partial = new Map<number, string>();
  const cached = new Set<number>();
  const flush = (step: number) => {
    const rest = partial.get(step);
    if (rest) out.write(`#${step} ${elapsed(started, step)} ${rest}\n`);
    partial.delete(step);
  };
  return (e) => {
    switch (e.kind) {
      case 'step':
        started.set(e.step, Date.now());
        out.write(`#${e.step} [${e.stage} ${e.step}/${e.total}] ${e.text}\n`);
        break;
      case 'output': {
        const text = (partial.get(e.step) ?? '') + e.data.toString('utf8');
        const lines = text.split('\n');
        partial.set(e.step, lines.pop()!);
        for (const line of lines) out.write(`#${e.step} ${elapsed(started, e.step)} ${line.replace(/\r$/, '')}\n`);
        break;
      }
      case 'cached':
        cached.add(e.step);
        out.write(`#${e.step} CACHED\n`);
        break;
      case 'done':
        flush(e.step);
        if (!cached.has(e.step)) out.write(`#${e.step} DONE ${(e.ms / 1000).toFixed(1)}s\n`);
        break;
      case 'warning':
        out.write(`WARNING: ${e.message}\n`);
        break;
    }
  };
}

/** Lines of output kept under a running step. */
const TAIL = 4;

interface Running {
  title: string;
  started: number;
  tail: string[];
  partial: string;
}

function liveView(out: NodeJS.WriteStream): (e: BuildEvent) => void {
  const running = new Map<number, Running>();
  const cached = new Set<number>();
  let drawn = 0;
  let timer: NodeJS.Timeout | undefined;
  const width = () => Math.max(20, (out.columns || 80) - 1);
  const fit = (s: string) => (s.length > width() ? `${s.slice(0, width() - 1)}…` : s);
  const clear = () => {
    if (drawn > 0) out.write(`\x1b[${drawn}A\x1b[J`);
    drawn = 0;
  };
  const draw = () => {
    clear();
    const lines: string[] = [];
    for (const r of running.values()) {
      lines.push(fit(` => ${r.title} ${((Date.now() - r.started) / 1000).toFixed(1)}s`));
      for (const t of r.tail) lines.push(fit(` => => ${t}`));
    }
    if (lines.length > 0) out.write(`${lines.join('\n')}\n`);
    drawn = lines.length;
  };
  const schedule = () => {
    timer ??= setTimeout(() => {
      timer = undefined;
      draw();
    }, 100);
  };
  const permanent = (line: string) => {
    clear();
    out.write(`${fit(line)}\n`);
    draw();
  };
  return (e) => {
    switch (e.kind) {
      case 'step':
        running.set(e.step, { title: `[${e.stage} ${e.step}/${e.total}] ${e.text}`, started: Date.now(), tail: [], partial: '' });
        schedule();
        break;
      case 'output': {
        const r = running.get(e.step);
        if (!r) break;
        const lines = (r.partial + e.data.toString('utf8')).split('\n');
        r.partial = lines.pop()!;
        r.tail = [...r.tail, ...lines.map((l) => l.replace(/\r$/, ''))].slice(-TAIL);
        schedule();
        break;
      }
      case 'cached':
        cached.add(e.step);
        break;
      case 'done': {
        const r = running.get(e.step);
        running.delete(e.step);
        if (r) permanent(cached.has(e.step) ? ` => CACHED ${r.title}` : ` => ${r.title} ${(e.ms / 1000).toFixed(1)}s`);
        if (running.size === 0 && timer) {
          clearTimeout(timer);
          timer = undefined;
          clear();
        }
        break;
      }
      case 'warning':
        permanent(`WARNING: ${e.message}`);
        break;
    }
  };
}

function elapsed(started: Map<number, number>, step: number): string {
  return ((Date.now() - (started.get(step) ?? Date.now())) / 1000).toFixed(3);
}
