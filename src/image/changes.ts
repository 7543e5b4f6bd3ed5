/**
 * Dockerfile instructions accepted by `import --change` (and later `commit --change`), applied to an
 * image config.
 */
import { InvalidArgument } from '../errors.ts';
import type { ImageConfigDoc } from '../store/images.ts';
import { parseGoDuration } from '../durations.ts';

/** JSON form `["a","b"]` stays as is; shell form runs under /bin/sh -c. */
function cmdForm(value: string): string[] {
  const v = value.trim();
  if (v.startsWith('[')) {
    try {
      const arr = JSON.parse(v) as unknown;
      if (Array.isArray(arr) && arr.every((x) => typeof x === 'string')) return arr;
    } catch {
      /* fall through to shell form */
    }
  }
  return ['/bin/sh', '-c', v];
}

function keyValues(value: string): [string, string][] {
  const v = value.trim();
  if (!v.includes('=')) {
    const sp = v.search(/\s/);
    if (sp < 0) throw new InvalidArgument(`ENV/LABEL needs a value: ${v}`);
    return [[v.slice(0, sp), v.slice(sp).trim()]];
  }
  const out: [string, string][] = [];
  for (const m of v.matchAll(/([^\s=]+)=("(?:[^"\\]|\\.)*"|\S*)/g)) {
    const raw = m[2]!;
    out.push([m[1]!, raw.startsWith('"') ? (JSON.parse(raw) as string) : raw]);
  }
  return out;
}

const HEALTH_OPTIONS: Record<string, string> = {
  interval: 'Interval', timeout: 'Timeout', 'start-period': 'StartPeriod', 'start-interval': 'StartInterval', retries: 'Retries',
};

/** `HEALTHCHECK [--interval=D …] CMD command` or `HEALTHCHECK NONE`, as the image config keeps it. */
function healthcheck(value: string): Record<string, unknown> {
  let rest = value.trim();
  const out: Record<string, unknown> = {};
  for (let m = /^--([a-z-]+)=(\S+)\s+/.exec(rest); m; m = /^--([a-z-]+)=(\S+)\s+/.exec(rest)) {
    const key = HEALTH_OPTIONS[m[1]!];
    if (!key) throw new InvalidArgument(`HEALTHCHECK: unknown flag --${m[1]}`);
    if (key === 'Retries') {
      if (!/^\d+$/.test(m[2]!)) throw new InvalidArgument(`HEALTHCHECK: --retries must be a whole number, not ${m[2]}`);
      out.Retries = Number(m[2]);
    } else {
      const ns = parseGoDuration(m[2]!);
      if (ns === null || ns < 0) throw new InvalidArgument(`HEALTHCHECK: --${m[1]} is not a duration: ${m[2]}`);
      out[key] = ns;
    }
    rest = rest.slice(m[0].length);
  }
  if (/^NONE$/i.test(rest)) return { Test: ['NONE'] };
  const cmd = /^CMD\s+([\s\S]+)$/i.exec(rest);
  if (!cmd) throw new InvalidArgument('HEALTHCHECK needs CMD followed by a command, or NONE');
  const form = cmdForm(cmd[1]!);
  return { Test: form[0] === '/bin/sh' && form[1] === '-c' && !cmd[1]!.trim().startsWith('[') ? ['CMD-SHELL', cmd[1]!.trim()] : ['CMD', ...form], ...out };
}

export function applyChanges(cfg: ImageConfigDoc['config'], changes: string[]): ImageConfigDoc['config'] {
  const out = { ...cfg };
  for (const change of changes) {
    const m = /^\s*([A-Za-z]+)\s+([\s\S]*)$/.exec(change);
    if (!m) throw new InvalidArgument(`invalid --change: ${change}`);
    const verb = m[1]!.toUpperCase();
    const value = m[2]!;
    switch (verb) {
      case 'CMD':
        out.Cmd = cmdForm(value);
        break;
      case 'ENTRYPOINT':
        out.Entrypoint = cmdForm(value);
        break;
      case 'ENV': {
        const env = [...(out.Env ?? [])];
        for (const [k, v] of keyValues(value)) {
          const i = env.findIndex((e) => e.startsWith(`${k}=`));
          if (i >= 0) env[i] = `${k}=${v}`;
          else env.push(`${k}=${v}`);
        }
        out.Env = env;
        break;
      }
      case 'LABEL':
        out.Labels = { ...(out.Labels ?? {}), ...Object.fromEntries(keyValues(value)) };
        break;
      case 'WORKDIR':
        out.WorkingDir = value.trim();
        break;
      case 'USER':
        out.User = value.trim();
        break;
      case 'STOPSIGNAL':
        out.StopSignal = value.trim();
        break;
      case 'EXPOSE': {
        const ports = { ...(out.ExposedPorts ?? {}) };
        for (const p of value.trim().split(/\s+/)) ports[p.includes('/') ? p : `${p}/tcp`] = {};
        out.ExposedPorts = ports;
        break;
      }
      case 'VOLUME': {
        const vols = { ...(out.Volumes ?? {}) };
        for (const p of cmdForm(value)[0] === '/bin/sh' ? value.trim().split(/\s+/) : cmdForm(value)) vols[p] = {};
        out.Volumes = vols;
        break;
      }
      case 'HEALTHCHECK':
        out.Healthcheck = healthcheck(value);
        break;
      default:
        throw new InvalidArgument(`${verb} is not a valid change command`);
    }
  }
  return out;
}
