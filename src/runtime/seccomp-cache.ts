/**
 * Seccomp filters crun compiled, kept so it compiles each profile once.
 *
 * crun turns a spec's seccomp section into a BPF program with libseccomp at every create: ~12 ms of the
 * ~20 ms `crun create` takes with docker's default profile here. It also writes the program it loaded to its
 * state dir (`<state root>/<id>/seccomp.bpf`, which its exec loads), and it takes a program as it is from the
 * annotation `run.oci.seccomp_bpf_data` (base64), in place of the section. So the first create of a profile
 * compiles as before and the program is kept; later creates of the same profile hand it back, and crun loads it
 * without compiling (measured: `crun create` ~20 → ~9 ms).
 *
 * An entry holds the profile's exact text and what built its program (the kernel, the runtime's binary and
 * libseccomp, by identity), and is used only when all of them are the same now: the hash in its name only
 * finds it. Profiles that ask crun for more than a filter (a listener, flags, notify actions) are compiled
 * every time. Entries are written whole (a temporary file renamed); a damaged one is ignored.
 */
import { existsSync, mkdirSync, readFileSync, realpathSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';

/** The annotation crun loads a ready program from. */
export const BPF_ANNOTATION = 'run.oci.seccomp_bpf_data';

interface Entry {
  builtBy: string;
  profile: string;
  bpf: string;
}

/** A spec's seccomp section, as far as this cache reads it. */
interface SeccompSection {
  listenerPath?: string;
  flags?: string[];
  defaultAction?: string;
  syscalls?: { action?: string }[];
}

export class SeccompCache {
  private readonly dir: string;
  private readonly runtimePath: string;

  /** `dir`: where entries live; `runtimePath`: the crun binary that compiles them. */
  constructor(dir: string, runtimePath: string) {
    this.dir = dir;
    this.runtimePath = runtimePath;
  }

  /**
   * The profile's text when this cache can serve it (a plain filter), else undefined: what `program` and
   * `learn` take.
   */
  profileOf(seccomp: unknown): string | undefined {
    const s = seccomp as SeccompSection | undefined;
    if (!s || typeof s !== 'object') return undefined;
    if (s.listenerPath || (s.flags && s.flags.length > 0)) return undefined;
    if (s.defaultAction === 'SCMP_ACT_NOTIFY' || s.syscalls?.some((r) => r.action === 'SCMP_ACT_NOTIFY')) return undefined;
    return JSON.stringify(s);
  }

  /** The program compiled before for exactly this profile by what would compile it now (base64), if kept. */
  program(profile: string): string | undefined {
    let entry: Entry;
    try {
      entry = JSON.parse(readFileSync(this.file(profile), 'utf8')) as Entry;
    } catch {
      return undefined; // none kept, or damaged: compiled anew
    }
    if (entry.profile !== profile || entry.builtBy !== this.builtBy()) return undefined;
    return validProgram(entry.bpf) ? entry.bpf : undefined;
  }

  /**
   * Keep the program the runtime compiled for `profile` (the file it wrote for the container it created).
   * Best effort: a cache that cannot be written compiles again next time.
   */
  learn(profile: string, compiled: string): void {
    try {
      const bpf = readFileSync(compiled).toString('base64');
      if (!validProgram(bpf)) return;
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      const file = this.file(profile);
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify({ builtBy: this.builtBy(), profile, bpf } satisfies Entry), { mode: 0o600 });
      renameSync(tmp, file);
    } catch {
      /* not kept */
    }
  }

  private file(profile: string): string {
    return join(this.dir, `${fileKey(profile)}.json`);
  }

  /**
   * What compiles a profile here: the kernel, the runtime's binary and libseccomp, each by identity. Read at
   * each use (a few stats): a long-lived engine sees an upgrade of either as it happens.
   */
  private builtBy(): string {
    return [release(), identity(this.runtimePath), identity(libseccompPath())].join('\n');
  }
}

/** A BPF program: whole 8-byte instructions, at least one. */
function validProgram(base64: unknown): base64 is string {
  if (typeof base64 !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(base64)) return false;
  const bytes = Buffer.byteLength(base64, 'base64');
  return bytes > 0 && bytes % 8 === 0;
}

/** A file by its real path, inode, size and modification time; "-" when it cannot be read. */
function identity(path: string | undefined): string {
  if (!path) return '-';
  try {
    const real = realpathSync(path);
    const st = statSync(real);
    return `${real} ${st.ino} ${st.size} ${st.mtimeMs}`;
  } catch {
    return '-';
  }
}

const LIB_DIRS = ['/usr/lib/x86_64-linux-gnu', '/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/lib/aarch64-linux-gnu', '/usr/lib64', '/lib64', '/usr/lib', '/lib'];

/** Where the runtime's libseccomp is (the dynamic linker's usual directories). */
function libseccompPath(): string | undefined {
  return LIB_DIRS.map((d) => join(d, 'libseccomp.so.2')).find((p) => existsSync(p));
}

/**
 * A file name for a profile: its length and a 32-bit FNV-1a of every 7th UTF-16 unit. Not a proof of
 * sameness (the text is compared), so a sample does: hashing each of docker's profile's ~7,000 units cost
 * a create ~0.6 ms in code run once per process (never optimised).
 */
function fileKey(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 7) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return `${text.length.toString(16)}-${(h >>> 0).toString(16).padStart(8, '0')}`;
}
