/**
 * OCI hooks from a hooks directory, in the hooks.d JSON format podman and CRI-O read:
 * `{"version": "1.0.0", "hook": {path, args, env, timeout}, "when": {always, annotations, commands,
 * hasBindMounts}, "stages": [...]}`. Files are applied in name order; an invalid file is an error that names it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidArgument } from '../errors.ts';
import type { ContainerConfig, HookStage, OciHook, OciHooks } from '../types.ts';

interface HookFile {
  version: string;
  hook: OciHook;
  when: { always?: boolean; annotations?: Record<string, string>; commands?: string[]; hasBindMounts?: boolean };
  stages: HookStage[];
}

const STAGES: readonly HookStage[] = ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'];

export function loadHooks(dir: string | undefined, cfg: ContainerConfig): OciHooks {
  if (!dir) return {};
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
  } catch {
    return {};
  }
  const out: OciHooks = {};
  for (const f of files) {
    let h: HookFile;
    try {
      h = JSON.parse(readFileSync(join(dir, f), 'utf8')) as HookFile;
    } catch (e) {
      throw new InvalidArgument(`hook ${f}: ${(e as Error).message}`);
    }
    if (h.version !== '1.0.0' || !h.hook?.path || !Array.isArray(h.stages) || !h.when) {
      throw new InvalidArgument(`hook ${f}: needs version "1.0.0", hook.path, when and stages`);
    }
    for (const s of h.stages) if (!STAGES.includes(s)) throw new InvalidArgument(`hook ${f}: unknown stage ${s}`);
    if (!matches(h.when, cfg)) continue;
    for (const s of h.stages) (out[s] ??= []).push(h.hook);
  }
  return out;
}

function matches(when: HookFile['when'], cfg: ContainerConfig): boolean {
  if (when.always) return true;
  if (when.hasBindMounts && cfg.mounts.some((m) => m.type === 'bind')) return true;
  if (when.commands?.some((re) => new RegExp(`^(?:${re})$`).test(cfg.args[0] ?? ''))) return true;
  if (when.annotations) {
    for (const [kre, vre] of Object.entries(when.annotations)) {
      const k = new RegExp(`^(?:${kre})$`);
      const v = new RegExp(`^(?:${vre})$`);
      if (Object.entries(cfg.annotations).some(([ak, av]) => k.test(ak) && v.test(av))) return true;
    }
  }
  return false;
}
