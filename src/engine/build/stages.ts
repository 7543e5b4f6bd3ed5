/**
 * A Dockerfile's stages: where each begins (FROM), what it is called, which earlier stages it reads
 * (FROM a stage, COPY --from, RUN --mount from=), and so which stages a target needs. The ARGs before the
 * first FROM are the global ones: only FROM lines see them (a stage re-declares one to use it).
 */
import { InvalidArgument } from '../../errors.ts';
import type { DockerfileNode } from '../../dockerfile/parser.ts';
import { expandWord } from '../../dockerfile/shell-lex.ts';
import { checkInstruction, parseFlags } from './flags.ts';
import { lineError } from './line-error.ts';
import { PLATFORM_ARGS } from './predefined-args.ts';

export interface Stage {
  index: number;
  /** The `AS` name, lower-cased ('' when it has none). */
  name: string;
  /** The FROM line. */
  from: DockerfileNode;
  /** What FROM names, expanded with the global ARGs: an image reference, `scratch` or a stage's name. */
  base: string;
  /** The earlier stage FROM names, if it names one. */
  baseStage?: number;
  /** The instructions after FROM. */
  nodes: DockerfileNode[];
  /** Earlier stages this one reads. */
  deps: Set<number>;
}

export interface StagePlan {
  stages: Stage[];
  /** The stage the build ends with. */
  target: number;
  /** The stages the target needs (itself included), in Dockerfile order. */
  needed: number[];
  /** The global ARGs with their values (a build-arg over the default), the platform ones among them. */
  globalArgs: Map<string, string>;
  /** Global ARG names (for the warning about build-args no ARG declares). */
  declared: Set<string>;
}

/** Split the instructions into stages and work out what `target` (a stage name; the last stage if absent) needs. */
export function planStages(nodes: DockerfileNode[], escape: '\\' | '`', buildArgs: Record<string, string>, target?: string): StagePlan {
  for (const n of nodes) checkInstruction(n);
  // The platform ARGs are in the global scope from the start; a --build-arg does not change them.
  const globalArgs = new Map<string, string>(PLATFORM_ARGS);
  const declared = new Set<string>();
  let i = 0;
  for (; i < nodes.length && nodes[i]!.instruction !== 'from'; i++) {
    const n = nodes[i]!;
    if (n.instruction !== 'arg') throw lineError(n, 'no build stage in current context: the first instruction must be FROM (or ARG)');
    for (const [name, value] of argDeclarations(n, globalArgs, escape)) {
      declared.add(name);
      const v = name in buildArgs ? buildArgs[name] : value;
      if (v !== undefined) globalArgs.set(name, v);
    }
  }
  if (i === nodes.length) throw new InvalidArgument('the Dockerfile has no FROM instruction');
  const stages: Stage[] = [];
  for (; i < nodes.length; i++) {
    const n = nodes[i]!;
    if (n.instruction === 'from') stages.push(stageFrom(n, stages, globalArgs, escape));
    else stages.at(-1)!.nodes.push(n);
  }
  for (const s of stages) for (const n of s.nodes) for (const ref of stageRefs(n)) {
    const dep = findStage(stages, ref, s.index);
    if (dep !== undefined) s.deps.add(dep);
  }
  let t = stages.length - 1;
  if (target !== undefined) {
    t = stages.findIndex((s) => s.name === target.toLowerCase());
    if (t < 0) throw new InvalidArgument(`target stage "${target}" could not be found`);
  }
  const needed = new Set<number>();
  const visit = (k: number) => {
    if (needed.has(k)) return;
    needed.add(k);
    for (const d of stages[k]!.deps) visit(d);
  };
  visit(t);
  return { stages, target: t, needed: [...needed].sort((a, b) => a - b), globalArgs, declared };
}

/** `ARG a b=c`: each name and its default (expanded), undefined when it has none. */
export function argDeclarations(n: DockerfileNode, env: ReadonlyMap<string, string>, escape: '\\' | '`'): [string, string | undefined][] {
  if (n.args.length === 0) throw lineError(n, 'ARG requires at least one argument');
  return n.args.map((word) => {
    const eq = word.indexOf('=');
    if (eq < 0) return [word, undefined];
    const name = word.slice(0, eq);
    if (name === '') throw lineError(n, `ARG names a variable: ${word}`);
    return [name, expandWord(word.slice(eq + 1), env, { escape }).value];
  });
}

function stageFrom(n: DockerfileNode, stages: Stage[], globalArgs: Map<string, string>, escape: '\\' | '`'): Stage {
  parseFlags(n, ['platform']);
  const words = n.args;
  if (!(words.length === 1 || (words.length === 3 && words[1]!.toLowerCase() === 'as'))) {
    throw lineError(n, 'FROM requires either one or three arguments: FROM <image> [AS <name>]');
  }
  const name = (words[2] ?? '').toLowerCase();
  if (name && !/^[a-z][a-z0-9_.-]*$/.test(name)) throw lineError(n, `invalid name for build stage: "${words[2]}", name can't start with a number or contain symbols`);
  if (name && stages.some((s) => s.name === name)) throw lineError(n, `duplicate name ${name}`);
  const base = expandWord(words[0]!, globalArgs, { escape }).value;
  if (base === '') throw lineError(n, `base name (${words[0]}) should not be blank`);
  const baseStage = stages.findIndex((s) => s.name !== '' && s.name === base.toLowerCase());
  return {
    index: stages.length,
    name,
    from: n,
    base,
    ...(baseStage >= 0 ? { baseStage } : {}),
    nodes: [],
    deps: new Set(baseStage >= 0 ? [baseStage] : []),
  };
}

/** What an instruction's `--from` names (COPY, ADD; RUN --mount from=), unresolved. */
function stageRefs(n: DockerfileNode): string[] {
  const out: string[] = [];
  for (const f of n.flags) {
    if ((n.instruction === 'copy' || n.instruction === 'add') && f.startsWith('--from=')) out.push(f.slice(7));
    if (n.instruction === 'run' && f.startsWith('--mount=')) {
      const from = /(?:^|,)from=([^,]+)/.exec(f.slice(8));
      if (from) out.push(from[1]!);
    }
  }
  return out;
}

/** The stage `ref` names (its name, or its index) before stage `before`; undefined when it names an image. */
export function findStage(stages: readonly Stage[], ref: string, before: number): number | undefined {
  if (/^\d+$/.test(ref)) {
    const k = Number(ref);
    if (k >= before) throw new InvalidArgument(`invalid from flag value ${ref}: refers to current or future build stage`);
    return k;
  }
  const k = stages.findIndex((s) => s.name !== '' && s.name === ref.toLowerCase());
  if (k >= before) throw new InvalidArgument(`invalid from flag value ${ref}: refers to current or future build stage`);
  return k >= 0 ? k : undefined;
}
