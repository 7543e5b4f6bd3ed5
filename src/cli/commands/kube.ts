/** `berth kube play [--replace] [--start=false] FILE|-` and `berth kube down FILE|-`: podman's verbs. */
import { readFileSync } from 'node:fs';
import type { FlagDef } from '../flags.ts';
import { parse, withEngine } from '../common.ts';
import { fail } from '../command.ts';
import { InvalidArgument } from '../../errors.ts';
import type { Globals } from '../globals.ts';

function readYaml(file: string): string {
  try {
    return readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (e) {
    throw new InvalidArgument(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

const playFlags = [
  { name: 'replace', type: 'bool', description: "Remove the file's pods first if they exist" },
  { name: 'start', type: 'bool', default: true, description: 'Start the pods after making them' },
] as const satisfies readonly FlagDef[];

async function play(argv: string[], g: Globals): Promise<number> {
  const p = parse({ usage: '[OPTIONS] FILE', description: 'Make pods and containers from a Kubernetes YAML file (Pod, Deployment, ConfigMap)', flags: playFlags, args: [1, 1] }, argv, 'kube play');
  if (typeof p === 'number') return p;
  return withEngine(g, 'kube play', async (engine) => {
    const report = await engine.kubePlay(readYaml(p.args[0]!), { replace: p.flags.replace, start: p.flags.start });
    for (const pod of report.pods) process.stdout.write(`Pod:\n${pod.id}\nContainers:\n${pod.containers.join('\n')}\n\n`);
    return 0;
  });
}

async function down(argv: string[], g: Globals): Promise<number> {
  const p = parse({ usage: 'FILE', description: 'Remove the pods, containers and volumes a Kubernetes YAML file made', flags: [], args: [1, 1] }, argv, 'kube down');
  if (typeof p === 'number') return p;
  return withEngine(g, 'kube down', async (engine) => {
    const report = await engine.kubeDown(readYaml(p.args[0]!));
    process.stdout.write(`Pods removed:\n${report.pods.map((x) => `${x.id}\n`).join('')}`);
    if (report.volumes.length > 0) process.stdout.write(`Volumes removed:\n${report.volumes.map((v) => `${v}\n`).join('')}`);
    return 0;
  });
}

export async function main(argv: string[], g: Globals): Promise<number> {
  const sub = g.verb.split(' ')[1] ?? '';
  if (sub === 'play') return play(argv, g);
  if (sub === 'down') return down(argv, g);
  return fail(`berth: 'kube ${sub}' is not a berth command.\nSee 'berth kube --help'`, 125);
}
