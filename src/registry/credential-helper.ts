/**
 * A docker credential helper: the program `docker-credential-<name>` on PATH, run once per action with
 * the action as its one argument, the request on stdin and the answer on stdout.
 *
 * - `get`: the server URL in; `{"ServerURL","Username","Secret"}` out. A helper holding nothing for that
 *   server prints `credentials not found in native keychain` and exits non-zero: that answer means
 *   "none", not a failure (every helper of docker-credential-helpers says it in those words).
 * - `store`: `{"ServerURL","Username","Secret"}` in. `erase`: the server URL in (not found as for get).
 * - (`list`, every server URL with its username, serves docker's build, which sends all credentials at
 *   once; nothing in Berth asks for that.)
 *
 * The helper's stderr is passed through: a helper may ask for a passphrase there (pass through gpg) or
 * explain a failure. A failure is one line naming the action, the program and what it printed, in the
 * words docker uses (`error getting credentials - err: …`), so a user can search for it.
 */
import { spawn } from 'node:child_process';
import { NotSupported, RuntimeFailure } from '../errors.ts';
import type { Credentials } from './authfile.ts';

const PREFIX = 'docker-credential-';
const NOT_FOUND = 'credentials not found in native keychain';
/** docker's marker for an identity (OAuth refresh) token stored in place of a username and password. */
const TOKEN_USERNAME = '<token>';
/** A helper answers with a few hundred bytes; more is not an answer. */
const OUTPUT_MAX = 1 << 20;

type Action = 'get' | 'store' | 'erase';

const VERB: Record<Action, string> = { get: 'getting', store: 'storing', erase: 'erasing' };

interface Outcome {
  /** Why the program failed; undefined when it exited 0. */
  failure?: string;
  out: string;
}

export class CredentialHelper {
  /** The program run: `docker-credential-<name>`. */
  readonly program: string;
  readonly #env: NodeJS.ProcessEnv;

  constructor(name: string, env: NodeJS.ProcessEnv = process.env) {
    this.program = PREFIX + name;
    this.#env = env;
  }

  /** The helper's credentials for a server URL; undefined when it holds none. */
  async get(serverURL: string): Promise<Credentials | undefined> {
    const r = await this.#run('get', serverURL);
    if (r.failure !== undefined && r.out.trim() === NOT_FOUND) return undefined;
    if (r.failure !== undefined) throw this.#error('get', r);
    let doc: { Username?: unknown; Secret?: unknown };
    try {
      doc = JSON.parse(r.out) ?? {};
    } catch {
      throw new RuntimeFailure(`error getting credentials - err: ${this.program} answered with no JSON: ${oneLine(r.out).slice(0, 200)}`);
    }
    if (typeof doc.Username !== 'string' || typeof doc.Secret !== 'string') {
      throw new RuntimeFailure(`error getting credentials - err: ${this.program} answered without Username and Secret`);
    }
    if (doc.Username === TOKEN_USERNAME) {
      throw new NotSupported(`${this.program} holds an identity token for ${serverURL}; Berth logs in with a username and password only`);
    }
    if (doc.Username === '' && doc.Secret === '') return undefined;
    return { username: doc.Username, password: doc.Secret };
  }

  async store(serverURL: string, c: Credentials): Promise<void> {
    const r = await this.#run('store', JSON.stringify({ ServerURL: serverURL, Username: c.username, Secret: c.password }));
    if (r.failure !== undefined) throw this.#error('store', r);
  }

  /** Erases the helper's credentials for a server URL; false when it held none. */
  async erase(serverURL: string): Promise<boolean> {
    const r = await this.#run('erase', serverURL);
    if (r.failure !== undefined && r.out.trim() === NOT_FOUND) return false;
    if (r.failure !== undefined) throw this.#error('erase', r);
    return true;
  }

  #error(action: Action, r: Outcome): RuntimeFailure {
    const out = oneLine(r.out);
    return new RuntimeFailure(`error ${VERB[action]} credentials - err: ${r.failure}${out ? `, out: \`${out.slice(0, 500)}\`` : ''}`);
  }

  #run(action: Action, input: string): Promise<Outcome> {
    return new Promise((resolve) => {
      const child = spawn(this.program, [action], { stdio: ['pipe', 'pipe', 'inherit'], env: this.#env });
      const chunks: Buffer[] = [];
      let size = 0;
      let spawnError: NodeJS.ErrnoException | undefined;
      child.on('error', (e: NodeJS.ErrnoException) => (spawnError = e));
      child.stdout.on('data', (b: Buffer) => {
        size += b.length;
        if (size <= OUTPUT_MAX) chunks.push(b);
        else child.kill('SIGKILL');
      });
      // A helper may exit without reading its input: the broken pipe is its answer's business, not ours.
      child.stdin.on('error', () => {});
      child.stdin.end(input);
      child.on('close', (code, signal) => {
        const out = Buffer.concat(chunks).toString('utf8');
        if (spawnError) return resolve({ out, failure: this.#spawnFailure(spawnError) });
        if (size > OUTPUT_MAX) return resolve({ out: '', failure: `${this.program}: answered more than ${OUTPUT_MAX} bytes` });
        if (signal) return resolve({ out, failure: `${this.program}: signal: ${signal}` });
        resolve(code === 0 ? { out } : { out, failure: `${this.program}: exit status ${code}` });
      });
    });
  }

  #spawnFailure(e: NodeJS.ErrnoException): string {
    // Go's exec (docker's) skips a file that is not executable the same way as an absent one.
    if (e.code === 'ENOENT' || e.code === 'EACCES') return `exec: "${this.program}": executable file not found in $PATH`;
    return `exec: "${this.program}": ${e.message}`;
  }
}

const oneLine = (s: string) => s.trim().replace(/\s*\n\s*/g, ' ');
