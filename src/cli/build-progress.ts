/**
 * A build's progress as `docker build` prints it in plain mode: `#N [stage k/total] INSTRUCTION`, the step's
 * output with the seconds since it started, then `#N CACHED` or `#N DONE 0.4s`. Lines go to stderr, so
 * stdout carries only what -q or the image id asks for.
 */
import type { BuildEvent } from '../engine/build/options.ts';

export function buildPrinter(out: NodeJS.WritableStream = process.stderr): (e: BuildEvent) => void {
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
        if (cached.has(e.step)) break;
        out.write(`#${e.step} DONE ${(e.ms / 1000).toFixed(1)}s\n`);
        break;
      case 'warning':
        out.write(`WARNING: ${e.message}\n`);
        break;
    }
  };
}

function elapsed(started: Map<number, number>, step: number): string {
  return ((Date.now() - (started.get(step) ?? Date.now())) / 1000).toFixed(3);
}
