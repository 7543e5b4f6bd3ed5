/**
 * Registry settings, with docker's daemon.json keys so a docker user's settings carry over:
 * `{"insecure-registries": ["host:port"], "registry-mirrors": ["https://mirror.example"]}`. Read from
 * `<root>/registries.json`, else `/etc/berth/registries.json`. Mirrors serve docker.io pulls, as docker's
 * do; loopback registries may use plain http without being listed, as with docker.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidArgument } from '../errors.ts';
import type { RegistryOptions } from '../registry/client.ts';

export function registryOptions(root: string): RegistryOptions {
  for (const file of [join(root, 'registries.json'), '/etc/berth/registries.json']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    let doc: Record<string, unknown>;
    try {
      doc = JSON.parse(text) as Record<string, unknown>;
    } catch (e) {
      throw new InvalidArgument(`${file}: not valid JSON: ${(e as Error).message}`, { cause: e });
    }
    const list = (key: string): string[] => {
      const v = doc[key] ?? [];
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new InvalidArgument(`${file}: "${key}" must be a list of strings`);
      return v;
    };
    const hostOf = (u: string) => u.replace(/^[a-z]+:\/\//, '').replace(/\/+$/, '');
    const mirrors = list('registry-mirrors').map(hostOf);
    const insecure = list('insecure-registries').map(hostOf);
    // A mirror given as http:// is meant to be reached over http.
    for (const m of list('registry-mirrors')) if (m.startsWith('http://')) insecure.push(hostOf(m));
    return { insecure, mirrors: mirrors.length ? { 'docker.io': mirrors } : {} };
  }
  return {};
}
