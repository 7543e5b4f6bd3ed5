/**
 * The instructions that change only the image config: ENV, LABEL, EXPOSE, WORKDIR, USER, CMD, ENTRYPOINT,
 * SHELL, VOLUME, STOPSIGNAL, HEALTHCHECK, ONBUILD, MAINTAINER. Pure: a node, the config so far and the
 * variables in scope in; the new config out. Words are expanded as BuildKit expands them (ENV and LABEL keys
 * and values, WORKDIR, USER, VOLUME, STOPSIGNAL, EXPOSE); CMD, ENTRYPOINT, SHELL and HEALTHCHECK are not.
 */
import type { DockerfileNode } from '../../dockerfile/parser.ts';
import { expandWord, expandWords } from '../../dockerfile/shell-lex.ts';
import { applyChanges } from '../../image/changes.ts';
import type { ImageConfigDoc } from '../../store/images.ts';
import { parseSignal } from '../signals.ts';
import { lineError } from './line-error.ts';

type Config = ImageConfigDoc['config'];

export const DEFAULT_SHELL = ['/bin/sh', '-c'];

export interface ConfigStepInput {
  node: DockerfileNode;
  config: Config;
  /** Variables for expansion: the stage's ARGs under its ENV. */
  env: ReadonlyMap<string, string>;
  escape: '\\' | '`';
  /** CMD was set in this stage (ENTRYPOINT clears an inherited one only). */
  cmdSetHere: boolean;
}

/** The config after the instruction, and the history line for it. */
export function configStep(i: ConfigStepInput): { config: Config; createdBy: string } {
  const { node: n, env, escape } = i;
  const c: Config = { ...i.config };
  const word = (w: string) => expandWord(w, env, { escape }).value;
  const shell = (c.Shell as string[] | undefined) ?? DEFAULT_SHELL;
  const command = () => (n.json ? [...n.args] : n.args.length ? [...shell, n.args[0]!] : []);
  switch (n.instruction) {
    case 'env':
    case 'label': {
      if (n.args.length === 0) throw lineError(n, `${n.instruction.toUpperCase()} requires at least one argument`);
      const pairs: [string, string][] = [];
      for (let k = 0; k + 1 < n.args.length; k += 3) pairs.push([word(n.args[k]!), word(n.args[k + 1]!)]);
      if (n.instruction === 'env') {
        const list = [...(c.Env ?? [])];
        for (const [name, value] of pairs) {
          if (name === '') throw lineError(n, 'ENV names must not be empty');
          const at = list.findIndex((e) => e.split('=', 1)[0] === name);
          if (at >= 0) list[at] = `${name}=${value}`;
          else list.push(`${name}=${value}`);
        }
        c.Env = list;
      } else {
        c.Labels = { ...(c.Labels ?? {}), ...Object.fromEntries(pairs) };
      }
      return { config: c, createdBy: `${n.instruction.toUpperCase()} ${pairs.map(([k, v]) => `${k}=${v}`).join(' ')}` };
    }
    case 'expose': {
      const ports = { ...(c.ExposedPorts ?? {}) };
      for (const p of n.args.flatMap((a) => expandWords(a, env, { escape }))) {
        if (!/^\d+(-\d+)?(\/(tcp|udp|sctp))?$/i.test(p)) throw lineError(n, `invalid containerPort: ${p}`);
        ports[p.includes('/') ? p.toLowerCase() : `${p}/tcp`] = {};
      }
      c.ExposedPorts = ports;
      return { config: c, createdBy: `EXPOSE map[${Object.keys(ports).map((p) => `${p}:{}`).join(' ')}]` };
    }
    case 'workdir': {
      const dir = word(oneArg(n));
      const base = c.WorkingDir || '/';
      c.WorkingDir = dir.startsWith('/') ? normalize(dir) : normalize(`${base}/${dir}`);
      return { config: c, createdBy: `WORKDIR ${c.WorkingDir}` };
    }
    case 'user':
      c.User = word(oneArg(n));
      return { config: c, createdBy: `USER ${c.User}` };
    case 'cmd':
      c.Cmd = command();
      return { config: c, createdBy: `CMD ${JSON.stringify(c.Cmd)}` };
    case 'entrypoint':
      c.Entrypoint = command();
      if (!i.cmdSetHere) c.Cmd = null;
      return { config: c, createdBy: `ENTRYPOINT ${JSON.stringify(c.Entrypoint)}` };
    case 'shell':
      if (!n.json || n.args.length === 0) throw lineError(n, 'SHELL requires the arguments to be in JSON form');
      c.Shell = [...n.args];
      return { config: c, createdBy: `SHELL ${JSON.stringify(n.args)}` };
    case 'volume': {
      const vols = { ...(c.Volumes ?? {}) };
      const paths = n.args.map(word);
      if (paths.length === 0 || paths.some((p) => p.trim() === '')) throw lineError(n, 'VOLUME specified can not be an empty string');
      for (const p of paths) vols[p] = {};
      c.Volumes = vols;
      return { config: c, createdBy: `VOLUME ${JSON.stringify(paths)}` };
    }
    case 'stopsignal': {
      const sig = word(oneArg(n));
      try {
        parseSignal(sig);
      } catch {
        throw lineError(n, `invalid signal: ${sig}`);
      }
      c.StopSignal = sig;
      return { config: c, createdBy: `STOPSIGNAL ${sig}` };
    }
    case 'healthcheck': {
      const rest = n.original.replace(/^\s*\S+\s*/, '');
      try {
        return { config: applyChanges(c, [`HEALTHCHECK ${rest}`]), createdBy: `HEALTHCHECK ${rest}` };
      } catch (e) {
        throw lineError(n, (e as Error).message);
      }
    }
    case 'onbuild': {
      const trigger = n.trigger;
      if (!trigger) throw lineError(n, 'ONBUILD requires at least one argument');
      if (['onbuild', 'from', 'maintainer'].includes(trigger.instruction)) throw lineError(n, `${trigger.keyword.toUpperCase()} isn't allowed as an ONBUILD trigger`);
      const text = n.original.replace(/^\s*\S+\s*/, '') + n.heredocs.map((h) => `\n${h.content}${h.name}`).join('');
      c.OnBuild = [...((c.OnBuild as string[] | null | undefined) ?? []), text];
      return { config: c, createdBy: `ONBUILD ${text}` };
    }
    case 'maintainer':
      return { config: c, createdBy: `MAINTAINER ${n.args[0] ?? ''}` };
    default:
      throw lineError(n, `unknown instruction: ${n.keyword}`);
  }
}

function oneArg(n: DockerfileNode): string {
  const v = n.args.join(' ').trim();
  if (v === '') throw lineError(n, `${n.instruction.toUpperCase()} requires exactly one argument`);
  return v;
}

function normalize(path: string): string {
  const out: string[] = [];
  for (const p of path.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') out.pop();
    else out.push(p);
  }
  return `/${out.join('/')}`;
}
