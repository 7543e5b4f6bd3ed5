/** An instruction's `--flags`: the ones it takes, each `--name=value` (or a bare `--name`), at most once. */
import type { DockerfileNode } from '../../dockerfile/parser.ts';
import { lineError } from './line-error.ts';

/** The flags each instruction takes (BuildKit's set; those Berth does not act on yet are refused where used). */
export const INSTRUCTION_FLAGS: Readonly<Record<string, readonly string[]>> = {
  from: ['platform'],
  run: ['mount', 'network', 'security'],
  copy: ['from', 'chown', 'chmod', 'link', 'parents', 'exclude'],
  add: ['chown', 'chmod', 'link', 'checksum', 'keep-git-dir', 'exclude'],
  healthcheck: ['interval', 'timeout', 'start-period', 'start-interval', 'retries'],
  env: [], label: [], expose: [], workdir: [], user: [], cmd: [], entrypoint: [], shell: [], volume: [],
  stopsignal: [], onbuild: [], maintainer: [], arg: [],
};

/** Refuse an unknown instruction or flag before any step runs (an ONBUILD's trigger is checked as well). */
export function checkInstruction(n: DockerfileNode): void {
  const allowed = INSTRUCTION_FLAGS[n.instruction];
  if (!allowed) throw lineError(n, `unknown instruction: ${n.keyword.toUpperCase()}`);
  parseFlags(n, allowed);
  if (n.trigger) checkInstruction(n.trigger);
}

/** Flags that may be given more than once (each value kept). */
const REPEATABLE = new Set(['mount', 'exclude']);

/** The flags by name (a bare flag's value is 'true'); an unknown one, or one given twice, is refused. */
export function parseFlags(n: DockerfileNode, allowed: readonly string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const f of n.flags) {
    const m = /^--([A-Za-z][A-Za-z0-9-]*)(?:=([\s\S]*))?$/.exec(f);
    if (!m) throw lineError(n, `invalid flag: ${f}`);
    const name = m[1]!;
    if (!allowed.includes(name)) throw lineError(n, `unknown flag: ${name}`);
    const values = out.get(name) ?? [];
    if (values.length > 0 && !REPEATABLE.has(name)) throw lineError(n, `duplicate flag specified: ${name}`);
    values.push(m[2] ?? 'true');
    out.set(name, values);
  }
  return out;
}
