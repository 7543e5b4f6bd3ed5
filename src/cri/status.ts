/**
 * An error as a gRPC status: Berth's errors carry the code containerd gives the same condition (src/errors.ts);
 * anything else is a bug, answered INTERNAL and reported on stderr with its stack.
 */
import { isBerthError } from '../errors.ts';

export interface GrpcStatus {
  code: number;
  details: string;
}

const INTERNAL = 13;

export function grpcStatus(e: unknown): GrpcStatus {
  if (isBerthError(e)) return { code: e.grpcCode, details: e.message };
  process.stderr.write(`berth serve --cri: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  return { code: INTERNAL, details: `internal error: ${e instanceof Error ? e.message : String(e)}` };
}
