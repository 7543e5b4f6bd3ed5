/**
 * The CRI v1 services (runtime.v1 RuntimeService and ImageService) from the API's .proto file, loaded at the
 * server's start. Messages keep the proto's field names (snake_case, as the CRI documents them), 64-bit
 * integers travel as decimal strings (nanosecond times exceed a double's exact range), enums as their names.
 */
import { readFileSync } from 'node:fs';
import { RuntimeFailure } from '../errors.ts';
import { helperBinary } from '../sys/helper-binary.ts';

export type ServiceDefinition = import('@grpc/grpc-js').ServiceDefinition;

export interface CriServices {
  runtime: ServiceDefinition;
  image: ServiceDefinition;
}

export async function loadCriServices(): Promise<CriServices> {
  const file = helperBinary('cri-api.proto');
  if (!file) throw new RuntimeFailure('the CRI API definition (dist/cri-api.proto) is missing: run scripts/build');
  const loader = await import('@grpc/proto-loader');
  const grpc = await import('@grpc/grpc-js');
  // loadSync reads by path; the text is read here first so that a missing file fails with its name.
  readFileSync(file);
  const def = loader.loadSync(file, { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { runtime: { v1: Record<string, { service: ServiceDefinition }> } };
  return { runtime: pkg.runtime.v1.RuntimeService!.service, image: pkg.runtime.v1.ImageService!.service };
}
