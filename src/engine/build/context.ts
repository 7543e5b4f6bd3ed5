/**
 * The build context as COPY and ADD see it: a directory, less what `.dockerignore` (or the Dockerfile's own
 * `<name>.dockerignore`) excludes. Sources are found inside it only: `..` cannot climb out, and a symlink in
 * the context is resolved inside it. What a step reads is hashed by content (names, types, modes, bytes,
 * link targets; not times), so a rebuild reuses a step until a file it reads changes.
 */
import { createHash } from 'node:crypto';
import { closeSync, lstatSync, openSync, readdirSync, readlinkSync, readSync, type Stats } from 'node:fs';
import { join, posix } from 'node:path';
import type { PackChoice } from '../../archive/pack.ts';
import { resolveInRoot } from '../../archive/securejoin.ts';
import { IgnoreMatcher, type IgnoreVerdict } from '../../dockerfile/dockerignore.ts';
import { InvalidArgument } from '../../errors.ts';
import type { CopySource } from './copy-into.ts';

const GLOB = /[*?[\\]/;

export class BuildContext {
  readonly root: string;
  readonly #matcher: IgnoreMatcher | undefined;
  readonly #verdicts = new Map<string, IgnoreVerdict>();
  /** Content digests of files already read in this build, by identity and change time. */
  readonly #fileDigests = new Map<string, string>();

  constructor(root: string, ignore?: { path: string; patterns: string[] }) {
    this.root = root;
    this.#matcher = ignore && ignore.patterns.length > 0 ? new IgnoreMatcher(ignore.patterns, ignore.path) : undefined;
  }

  /** Is this context path (slash-separated, relative) left out, as docker's walk of the context decides. */
  excluded(name: string): boolean {
    return this.#verdict(name)?.excluded ?? false;
  }

  /** PackOptions.select for a walk below a context path: ignored entries stay out. */
  readonly select = (name: string, isDir: boolean): PackChoice => {
    if (!this.excluded(name)) return 'include';
    return isDir && this.#matcher!.mayReinclude(name) ? 'descend' : 'exclude';
  };

  #verdict(name: string): IgnoreVerdict | undefined {
    if (!this.#matcher || name === '' || name === '.') return undefined;
    let v = this.#verdicts.get(name);
    if (!v) {
      const cut = name.lastIndexOf('/');
      v = this.#matcher.verdict(name, cut < 0 ? undefined : this.#verdict(name.slice(0, cut)));
      this.#verdicts.set(name, v);
    }
    return v;
  }

  /**
   * The sources a COPY/ADD source names: one path, or a wildcard (`*.txt`, `src/a?c`) matched against every
   * context path. Refused when it leaves the context, or names nothing there.
   */
  sources(source: string, instruction: string): CopySource[] {
    const clean = posix.normalize(`/${source}`).slice(1).replace(/\/+$/, '');
    if (GLOB.test(clean)) {
      const re = globRegExp(clean);
      const found = this.#walk('').filter((n) => re.test(n.name));
      if (found.length === 0) throw new InvalidArgument(`${instruction} failed: no source files were specified`);
      return found;
    }
    const host = resolveInRoot(this.root, clean);
    const st = lstatSync(host, { throwIfNoEntry: false });
    if (!st || (clean !== '' && this.excluded(clean))) {
      throw new InvalidArgument(`${instruction} failed: file not found in build context or excluded by .dockerignore: stat ${source}: file does not exist`);
    }
    return [{ host, isDir: st.isDirectory(), name: clean }];
  }

  /** Every context path below `dir` that is not ignored (not following links), in name order. */
  #walk(dir: string): CopySource[] {
    const out: CopySource[] = [];
    for (const e of readdirSync(join(this.root, dir), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const name = dir ? `${dir}/${e.name}` : e.name;
      const choice = this.select(name, e.isDirectory());
      if (choice === 'include') out.push({ host: join(this.root, name), isDir: e.isDirectory(), name });
      if (e.isDirectory() && choice !== 'exclude') out.push(...this.#walk(name));
    }
    return out;
  }

  /** A digest of what `sources` hold, as the copy would read them (ignored entries left out). */
  digest(sources: readonly CopySource[]): string {
    const h = createHash('sha256');
    for (const s of sources) this.#hashTree(h, s.host, s.name);
    return h.digest('hex');
  }

  #hashTree(h: ReturnType<typeof createHash>, host: string, name: string): void {
    const st = lstatSync(host);
    h.update(`${name}\0${st.mode}\0`);
    if (st.isSymbolicLink()) h.update(`${readlinkSync(host)}\0`);
    else if (st.isFile()) h.update(`${this.#fileDigest(host, st)}\0`);
    else if (st.isDirectory()) {
      for (const child of readdirSync(host).sort()) {
        const childName = name ? `${name}/${child}` : child;
        const isDir = lstatSync(join(host, child)).isDirectory();
        const choice = this.select(childName, isDir);
        if (choice === 'exclude') continue;
        if (choice === 'descend') h.update(`~${childName}\0`);
        this.#hashTree(h, join(host, child), childName);
      }
    }
  }

  #fileDigest(host: string, st: Stats): string {
    const key = `${st.dev}:${st.ino}:${st.size}:${st.ctimeMs}`;
    let d = this.#fileDigests.get(key);
    if (!d) {
      const h = createHash('sha256');
      const fd = openSync(host, 'r');
      try {
        const buf = Buffer.allocUnsafe(1 << 20);
        for (let n = readSync(fd, buf); n > 0; n = readSync(fd, buf)) h.update(buf.subarray(0, n));
      } finally {
        closeSync(fd);
      }
      d = h.digest('hex');
      this.#fileDigests.set(key, d);
    }
    return d;
  }
}

/** Go's filepath.Match as a regular expression over a whole slash-separated path. */
export function globRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '\\' && i + 1 < pattern.length) re += escapeRe(pattern[++i]!);
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) throw new InvalidArgument(`syntax error in pattern: ${pattern}`);
      let body = pattern.slice(i + 1, end);
      const negate = body.startsWith('^');
      if (negate) body = body.slice(1);
      re += `[${negate ? '^/' : ''}${body.replace(/[\]\\]/g, '\\$&')}]`;
      i = end;
    } else re += escapeRe(c);
  }
  return new RegExp(`^${re}$`);
}

const escapeRe = (c: string) => c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
