/**
 * Terminal tests through tmux: a private tmux server (its own socket) whose panes give a CLI a real pty,
 * keys typed into them, the screen read back with capture-pane, and a launcher script around the command
 * that reports its exit code and whether it left the user's terminal as it found it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { eventually } from './helpers.ts';

export const HAVE_TMUX = spawnSync('tmux', ['-V'], { encoding: 'utf8' }).status === 0;
export const NO_TMUX = 'tmux is not installed (scripts/setup installs it): terminal tests skipped';

/** Skip the test (true) when there is no tmux. */
export function skipWithoutTmux(t: TestContext): boolean {
  if (HAVE_TMUX) return false;
  t.skip(NO_TMUX);
  return true;
}

/** A word quoted for sh. */
export function sq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The terminal the command left behind is the one it found: cooked mode with echo, byte for byte. */
export function assertRestored(text: string, how: string): void {
  const modes = (/MODES=(.*)END/.exec(text)?.[1] ?? '').trim().split(/\s+/);
  for (const f of ['icanon', 'echo', 'isig', 'icrnl', 'opost']) {
    assert.ok(modes.includes(f), `after ${how}, host terminal lacks ${f} (stty -a: ${modes.join(' ')})`);
  }
  assert.match(text, /^TTY=restored$/m, `after ${how}, stty -g differs from before the command ran`);
}

export class TmuxServer {
  /** The server's socket (tmux -S), inside the test's scratch directory: nothing is left in /tmp/tmux-*. */
  readonly socket: string;
  /** The shell script every pane runs: the command, then its exit code and the terminal's state. */
  readonly launcher: string;

  /** A server whose socket and launcher script live in `scratch` (removed with it). */
  constructor(scratch: string) {
    this.socket = join(scratch, 'tmux.sock');
    this.launcher = join(scratch, 'launch.sh');
    // As `sh -c '<cmd>; echo EXIT=$?; sleep 600'`, plus what the command left the user's terminal in:
    // TTY=restored when every termios setting is as before (stty -g), and the main flags by name.
    writeFileSync(
      this.launcher,
      [
        '#!/bin/sh',
        'before=$(stty -g)',
        '"$@"',
        'rc=$?',
        'after=$(stty -g)',
        // A leading newline: a container killed mid-prompt leaves the cursor after "/ # ".
        'printf "\\nEXIT=%s\\n" "$rc"',
        'if [ "$before" = "$after" ]; then echo TTY=restored; else echo TTY=changed; fi',
        "echo \"MODES=$(stty -a | tr ' ;' '\\n\\n' | grep -x -E -e '-?(icanon|echo|isig|icrnl|opost)' | tr '\\n' ' ')END\"",
        'exec sleep 600',
        '',
      ].join('\n'),
      { mode: 0o755 },
    );
  }

  /** tmux on the private socket; panes are addressed by their %id. */
  tmux(args: string[]): string {
    const r = spawnSync('tmux', ['-S', this.socket, '-f', '/dev/null', ...args], { encoding: 'utf8', timeout: 10_000 });
    if (r.error) throw r.error;
    assert.equal(r.status, 0, `tmux ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  }

  /** The shell command line of a pane running argv through the launcher. */
  paneCommand(argv: string[]): string {
    return ['sh', this.launcher, ...argv].map(sq).join(' ');
  }

  /** A new detached session of the given size running argv; returns its pane id. */
  newSession(session: string, cols: number, rows: number, argv: string[]): string {
    return this.tmux(['new-session', '-d', '-s', session, '-x', String(cols), '-y', String(rows), '-P', '-F', '#{pane_id}', this.paneCommand(argv)]).trim();
  }

  /** A new window in a session running argv; returns its pane id. */
  newWindow(session: string, argv: string[]): string {
    return this.tmux(['new-window', '-d', '-t', `${session}:`, '-P', '-F', '#{pane_id}', this.paneCommand(argv)]).trim();
  }

  /** Run argv in an existing pane instead of what it runs now (killed), keeping its window and size. */
  respawn(pane: string, argv: string[]): void {
    this.tmux(['respawn-pane', '-k', '-t', pane, this.paneCommand(argv)]);
  }

  /** The pane's text, history included, wrapped lines joined. */
  capture(pane: string): string {
    return this.tmux(['capture-pane', '-p', '-J', '-S', '-500', '-t', pane]);
  }

  /** Poll the pane until re matches; fails with the pane's text. */
  async waitPane(pane: string, re: RegExp, what: string, ms = 15_000): Promise<string> {
    let text = '';
    const hit = await eventually(() => {
      text = this.capture(pane);
      return re.test(text);
    }, ms, 50);
    assert.ok(hit, `timed out waiting for ${what} (${re}) in the pane:\n${text}`);
    return text;
  }

  typeLine(pane: string, line: string): void {
    this.tmux(['send-keys', '-t', pane, '-l', line]);
    this.tmux(['send-keys', '-t', pane, 'Enter']);
  }

  /** tmux key names (C-p, Enter, …). */
  keys(pane: string, ...keys: string[]): void {
    this.tmux(['send-keys', '-t', pane, ...keys]);
  }

  resize(pane: string, cols: number, rows: number): void {
    this.tmux(['resize-window', '-t', pane, '-x', String(cols), '-y', String(rows)]);
  }

  /** The pane's window size: [cols, rows]. */
  size(pane: string): [number, number] {
    const [w, h] = this.tmux(['display-message', '-p', '-t', pane, '#{window_width} #{window_height}']).trim().split(' ');
    return [Number(w), Number(h)];
  }

  /** The terminal modes of the pane's tty, as `stty -a` reports them, split into words. */
  paneModes(pane: string): string[] {
    const tty = this.tmux(['display-message', '-p', '-t', pane, '#{pane_tty}']).trim();
    const r = spawnSync('stty', ['-a', '-F', tty], { encoding: 'utf8' });
    assert.equal(r.status, 0, `stty -F ${tty}: ${r.stderr}`);
    return r.stdout.split(/[\s;]+/);
  }

  /** Wait until the command has put the pane's terminal in raw mode (it is attached and reading keys). */
  async waitRaw(pane: string): Promise<void> {
    let modes: string[] = [];
    const raw = await eventually(() => {
      modes = this.paneModes(pane);
      return modes.includes('-icanon') && modes.includes('-echo');
    }, 15_000, 50);
    assert.ok(raw, `terminal never went raw while attached: ${modes.join(' ')}\npane:\n${this.capture(pane)}`);
  }

  /** After the command left: the launcher's report of its exit code and the terminal it left behind. */
  async waitExit(pane: string, code: number): Promise<string> {
    const text = await this.waitPane(pane, /MODES=.*END/, 'the command to exit');
    const m = /^EXIT=(\d+)$/m.exec(text);
    assert.ok(m, `no EXIT= line:\n${text}`);
    assert.equal(Number(m[1]), code, `the command's exit code; pane:\n${text}`);
    return text;
  }

  /**
   * Type `stty size` until the answer is `rows cols` (a resize reaches the container asynchronously);
   * fails with the pane's text.
   */
  async waitSize(pane: string, rows: number, cols: number, ms = 10_000): Promise<void> {
    let text = '';
    const re = new RegExp(`^${rows} ${cols}\\s*$`, 'm');
    const ok = await eventually(() => {
      this.typeLine(pane, 'stty size');
      return re.test((text = this.capture(pane)));
    }, ms, 500);
    assert.ok(ok, `the container's terminal never became ${rows}x${cols} (stty size):\n${text}`);
  }

  killSession(session: string): void {
    spawnSync('tmux', ['-S', this.socket, 'kill-session', '-t', session], { encoding: 'utf8' });
  }

  /** Stop the server and everything in its panes. */
  killServer(): void {
    spawnSync('tmux', ['-S', this.socket, 'kill-server'], { encoding: 'utf8' });
    rmSync(this.socket, { force: true });
  }
}
