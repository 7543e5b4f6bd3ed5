/** `berth images [-q] [-a] [--no-trunc] [--format T] [REPOSITORY[:TAG]]` */
import type { FlagDef } from '../flags.ts';
import { withEngine, parse, type Command } from '../common.ts';
import { formatRows, humanSize, renderTemplate } from '../format.ts';
import { humanDuration } from '../../engine/time.ts';
import { familiarRepo, parseImageName } from '../../registry/reference.ts';
import type { Globals } from '../globals.ts';
import { InvalidArgument } from '../../errors.ts';
import type { ImageRow } from '../../engine/types.ts';

const flags = [
  { name: 'all', short: 'a', type: 'bool', description: 'Show all images' },
  { name: 'quiet', short: 'q', type: 'bool', description: 'Only show image IDs' },
  { name: 'no-trunc', type: 'bool', description: "Don't truncate output" },
  { name: 'digests', type: 'bool', description: 'Show digests' },
  { name: 'format', type: 'string', description: 'Format output using a custom template' },
  { name: 'filter', short: 'f', type: 'list', description: 'Filter output based on conditions provided' },
] as const satisfies readonly FlagDef[];

const cmd: Command<typeof flags> = { usage: '[OPTIONS] [REPOSITORY[:TAG]]', description: 'List images', flags, args: [0, 1] };

const DEFAULT = 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}';
const HEADERS = { Repository: 'REPOSITORY', Tag: 'TAG', ID: 'IMAGE ID', CreatedSince: 'CREATED', CreatedAt: 'CREATED AT', Size: 'SIZE', Digest: 'DIGEST' };

export async function main(argv: string[], g: Globals): Promise<number> {
  const p = parse(cmd, argv, 'images');
  if (typeof p === 'number') return p;
  return withEngine(g, 'images', async (engine) => {
    const wanted = p.args[0] ? parseImageName(p.args[0]) : undefined;
    const filters = p.flags.filter.map(parseFilter);
    // reference= picks rows (repo:tag), not whole images; the other filters pick images.
    const refFilters = filters.filter((f) => f.key === 'reference').map((f) => globRe(f.value));
    const ref = (r: string) => engine.images.resolve(r);
    const items: Record<string, string>[] = [];
    for (const img of engine.listImages(p.flags.all)) {
      if (!filters.every((f) => matches(f, img, ref))) continue;
      const id = p.flags['no-trunc'] ? `sha256:${img.id}` : img.id.slice(0, 12);
      const digests = new Map<string, string>();
      for (const d of img.repoDigests) {
        const at = d.lastIndexOf('@');
        digests.set(d.slice(0, at), d.slice(at + 1));
      }
      const rows: [string, string][] = img.tags.map((t) => {
        const i = t.lastIndexOf(':');
        return [t.slice(0, i), t.slice(i + 1)];
      });
      // An image known only by digest shows its repository with no tag, as docker does.
      for (const repo of digests.keys()) if (!rows.some(([r]) => r === repo)) rows.push([repo, '<none>']);
      if (rows.length === 0) rows.push(['<none>', '<none>']);
      for (const [repo, tag] of rows) {
        if (wanted && (familiarRepo(wanted) !== repo || (wanted.tag && wanted.tag !== tag))) continue;
        if (!refFilters.every((re) => re.test(`${repo}:${tag}`) || re.test(repo))) continue;
        items.push({
          Repository: repo,
          Tag: tag,
          ID: id,
          Digest: digests.get(repo) ?? '<none>',
          CreatedSince: `${humanDuration(Date.now() - Date.parse(img.config.created))} ago`,
          CreatedAt: img.config.created,
          Size: humanSize(img.size),
        });
      }
    }
    if (p.flags.quiet) {
      for (const id of new Set(items.map((i) => i.ID))) process.stdout.write(`${id}\n`);
      return 0;
    }
    if (p.flags.format === 'json') {
      for (const i of items) process.stdout.write(`${renderTemplate('{{json .}}', i)}\n`);
      return 0;
    }
    const layout = p.flags.digests ? DEFAULT.replace('{{.Tag}}\t', '{{.Tag}}\t{{.Digest}}\t') : DEFAULT;
    process.stdout.write(formatRows(p.flags.format || undefined, layout, HEADERS, items));
    return 0;
  });
}

interface Filter {
  key: 'dangling' | 'reference' | 'label' | 'before' | 'since';
  value: string;
}

function parseFilter(f: string): Filter {
  const eq = f.indexOf('=');
  const key = f.slice(0, eq);
  const value = f.slice(eq + 1);
  if (eq < 0 || !['dangling', 'reference', 'label', 'before', 'since'].includes(key)) {
    throw new InvalidArgument(`invalid filter '${f}'`);
  }
  if (key === 'dangling' && !['true', 'false', '1', '0'].includes(value)) {
    throw new InvalidArgument(`invalid filter 'dangling=${value}'`);
  }
  return { key: key as Filter['key'], value };
}

/** docker's reference filter: a glob over `repo` or `repo:tag`, `*` not crossing `/`. */
function globRe(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]');
  return new RegExp(`^${body}$`);
}

function matches(f: Filter, img: ImageRow, ref: (r: string) => ImageRow): boolean {
  switch (f.key) {
    case 'dangling':
      return (img.tags.length === 0) === (f.value === 'true' || f.value === '1');
    case 'reference':
      return true;
    case 'label': {
      const [k, v] = f.value.split('=', 2) as [string, string | undefined];
      const labels = img.config.config.Labels ?? {};
      return k in labels && (v === undefined || labels[k] === v);
    }
    case 'before':
      return img.config.created < ref(f.value).config.created;
    case 'since':
      return img.config.created > ref(f.value).config.created;
  }
}
