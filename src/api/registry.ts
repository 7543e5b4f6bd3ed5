/**
 * Registry queries that pull nothing: `GET /distribution/{name}/json` (what a registry holds under a
 * reference: its manifest's descriptor and the platforms it serves) and `GET /images/search`.
 */
import { InvalidArgument } from '../errors.ts';
import { requestCredentials } from './auth.ts';
import { parseFilters } from './containers.ts';
import type { Ctx } from './http.ts';

/** `GET /distribution/{name}/json` with `X-Registry-Auth` → `{Descriptor, Platforms}` */
export async function distribution(ctx: Ctx): Promise<void> {
  const name = ctx.params[0]!;
  if (/^(sha256:)?[a-f0-9]{64}$/.test(name)) throw new InvalidArgument('no manifest found for full image ID');
  const { descriptor, platforms } = await ctx.engine.describeRemote(name, requestCredentials(ctx));
  ctx.send(200, { Descriptor: descriptor, Platforms: platforms });
}

/** `GET /images/search?term=&limit=&filters=` → `[{name, description, star_count, is_official, is_automated}]` */
export async function search(ctx: Ctx): Promise<void> {
  const term = ctx.q('term');
  if (!term) throw new InvalidArgument('term is required');
  const limit = ctx.q('limit');
  if (limit && !/^-?\d+$/.test(limit)) throw new InvalidArgument(`invalid limit: ${limit}`);
  ctx.send(200, await ctx.engine.search(term, limit ? Number(limit) : 25, parseFilters(ctx.q('filters'))));
}
