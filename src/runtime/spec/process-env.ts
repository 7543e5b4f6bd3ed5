/**
 * A process's environment from a container's `Config.Env` (the image's, under the user's, as given): what
 * docker's daemon adds and drops on the way to the process. PATH when none is set, HOME (the user's home)
 * when none is set; a name without a value (`Foo`, kept in Config.Env as sent) is not a variable.
 */

export const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export function processEnv(env: readonly string[], home: string): string[] {
  const out = env.filter((e) => e.includes('='));
  if (!out.some((e) => e.startsWith('PATH='))) out.unshift(DEFAULT_PATH);
  if (!out.some((e) => e.startsWith('HOME='))) out.push(`HOME=${home || '/'}`);
  return out;
}

/** Entries later in the list replace earlier ones of the same name (`A=1` then `A` keeps `A`, as docker's). */
export function mergeEnv(...lists: readonly (readonly string[])[]): string[] {
  const out = new Map<string, string>();
  for (const e of lists.flat()) {
    const i = e.indexOf('=');
    out.set(i < 0 ? e : e.slice(0, i), e);
  }
  return [...out.values()];
}
