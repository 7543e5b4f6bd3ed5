/** A Dockerfile error at an instruction: `Dockerfile:LINE: message`, as docker's builder reports one. */
import type { DockerfileNode } from '../../dockerfile/parser.ts';
import { InvalidArgument } from '../../errors.ts';

export function lineError(n: DockerfileNode, message: string): InvalidArgument {
  return new InvalidArgument(`Dockerfile:${n.startLine}: ${message}`);
}
