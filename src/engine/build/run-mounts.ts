/**
 * RUN --mount: what a RUN step sees besides its image, as BuildKit's mount types give it.
 * - `bind`: a context path (or a path of another stage or image, `from=`), read-only unless `rw`;
 * - `cache`: a directory that lives on between builds (`<root>/build-cache/`, `builder prune` empties it),
 *   keyed by its `id` (its target by default);
 * - `tmpfs`: an empty tmpfs;
 * - `secret`: a file given with `--secret id=…,src=…`, read-only at `/run/secrets/<id>` (or `target`);
 *   never part of the image nor of the cache key.
 * The cache key holds what the mounts show (a bind's content digest), never host paths.
 */
import { createHash } from 'node:crypto';
import { chownSync, existsSync, mkdirSync } from 'node:fs';
import { join, posix } from 'node:path';
import type { DockerfileNode } from '../../dockerfile/parser.ts';
import { expandWord } from '../../dockerfile/shell-lex.ts';
import { resolveInRoot } from '../../archive/securejoin.ts';
import type { ImageRow } from '../../store/images.ts';
import type { EngineCore } from '../core.ts';
import type { BuildContext } from './context.ts';
import { lineError } from './line-error.ts';
import { mountStepFs, type StepFs } from './step-fs.ts';

export interface RunMountInput {
  node: DockerfileNode;
  specs: string[];
  env: ReadonlyMap<string, string>;
  escape: '\\' | '`';
  context: BuildContext;
  secrets: Readonly<Record<string, string>>;
  engine: EngineCore;
  workRoot: string;
  /** The image a `from=` names (an earlier stage's, or an image of the store). */
  fromImage(ref: string): Promise<ImageRow>;
}

export interface PreparedMounts {
  mounts: string[];
  tmpfs: string[];
  dispose(): Promise<void>;
}

export interface RunMountPlan {
  key: unknown[];
  prepare(): Promise<PreparedMounts>;
}

const BOOLEAN_FIELDS = new Set(['rw', 'readwrite', 'ro', 'readonly', 'required']);

export async function planRunMounts(i: RunMountInput): Promise<RunMountPlan> {
  const key: unknown[] = [];
  const steps: ((into: PreparedMounts, held: StepFs[]) => Promise<void>)[] = [];
  for (const spec of i.specs) {
    const fields = new Map<string, string>();
    for (const f of spec.split(',')) {
      const eq = f.indexOf('=');
      const name = eq < 0 ? f : f.slice(0, eq);
      if (eq < 0 && !BOOLEAN_FIELDS.has(name)) throw lineError(i.node, `invalid field '${f}' in --mount=${spec}`);
      fields.set(name, eq < 0 ? 'true' : expandWord(f.slice(eq + 1), i.env, { escape: i.escape }).value);
    }
    const type = fields.get('type') ?? 'bind';
    const target = fields.get('target') ?? fields.get('dst') ?? fields.get('destination') ?? (type === 'secret' ? `/run/secrets/${fields.get('id') ?? ''}` : undefined);
    if (!target) throw lineError(i.node, `mount type=${type} needs a target`);
    const writable = fields.get('rw') === 'true' || fields.get('readwrite') === 'true';
    switch (type) {
      case 'tmpfs':
        key.push(['tmpfs', target]);
        steps.push(async (into) => void into.tmpfs.push(target));
        break;
      case 'bind': {
        const source = fields.get('source') ?? fields.get('src') ?? '.';
        const from = fields.get('from');
        if (from === undefined) {
          const found = i.context.sources(source, 'RUN --mount');
          key.push(['bind', target, source, writable, i.context.digest(found)]);
          steps.push(async (into) => void into.mounts.push(bind(found[0]!.host, target, writable)));
        } else {
          const img = await i.fromImage(from);
          key.push(['bind', target, source, writable, `image:${img.id}`]);
          steps.push(async (into, held) => {
            const fs = await mountStepFs(i.engine, img, i.workRoot);
            held.push(fs);
            const host = resolveInRoot(fs.target, posix.normalize(`/${source}`));
            if (!existsSync(host)) throw lineError(i.node, `--mount from=${from}: ${source} does not exist there`);
            into.mounts.push(bind(host, target, writable));
          });
        }
        break;
      }
      case 'cache': {
        if (fields.has('from')) throw lineError(i.node, 'RUN --mount=type=cache,from= is not supported');
        const id = fields.get('id') ?? target;
        const uid = Number(fields.get('uid') ?? 0);
        const gid = Number(fields.get('gid') ?? 0);
        const mode = parseInt(fields.get('mode') ?? '755', 8);
        if (![uid, gid, mode].every(Number.isInteger)) throw lineError(i.node, `invalid uid, gid or mode in --mount=${spec}`);
        // The cache's content is not the step's input: the key names the mount, not what it holds.
        key.push(['cache', target, id]);
        steps.push(async (into) => {
          const dir = join(i.engine.root, 'build-cache', createHash('sha256').update(id).digest('hex'));
          if (!existsSync(dir)) {
            mkdirSync(dir, { mode });
            chownSync(dir, uid, gid);
          }
          into.mounts.push(bind(dir, target, !(fields.get('ro') === 'true' || fields.get('readonly') === 'true')));
        });
        break;
      }
      case 'secret': {
        const id = fields.get('id') ?? posix.basename(target);
        const src = i.secrets[id];
        if (!src) {
          if (fields.get('required') === 'true') throw lineError(i.node, `secret ${id} is required but was not given (--secret id=${id},src=PATH)`);
          break;
        }
        key.push(['secret', target, id]);
        steps.push(async (into) => void into.mounts.push(bind(src, target, false)));
        break;
      }
      default:
        throw lineError(i.node, `RUN --mount=type=${type} is not supported`);
    }
  }
  return {
    key,
    async prepare() {
      const held: StepFs[] = [];
      const out: PreparedMounts = {
        mounts: [],
        tmpfs: [],
        dispose: async () => {
          for (const m of held.reverse()) await m.dispose().catch(() => {});
        },
      };
      try {
        for (const s of steps) await s(out, held);
      } catch (e) {
        await out.dispose();
        throw e;
      }
      return out;
    },
  };
}

const bind = (source: string, target: string, writable: boolean) => `type=bind,source=${source},target=${target}${writable ? '' : ',readonly'}`;
