/**
 * The four manifest formats a registry serves today, and choosing a platform from a list.
 *
 * A Docker schema2 manifest and an OCI image manifest have the same shape (config + layers); a Docker
 * manifest list and an OCI index have the same shape too (manifests, each with a platform). Which one a
 * body is comes from the response's Content-Type, else the body's own `mediaType`, else its fields (OCI
 * made `mediaType` optional). Schema1 manifests (signed, no config blob) are refused: registries have
 * converted them away for years.
 */
import { createHash } from 'node:crypto';
import { InvalidArgument, NotFound, NotSupported, RuntimeFailure } from '../errors.ts';

export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
/** What we ask for, in order of preference. */
export const MANIFEST_ACCEPT = [OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST];

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
  'os.version'?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  urls?: string[];
  annotations?: Record<string, string>;
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

export type ParsedManifest =
  | { kind: 'manifest'; mediaType: string; manifest: ImageManifest }
  | { kind: 'index'; mediaType: string; index: ImageIndex };

const DIGEST = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

/** Throws InvalidArgument unless `d` is a digest we can verify. */
export function checkDigest(d: string): void {
  if (!DIGEST.test(d)) throw new InvalidArgument(`invalid digest: ${JSON.stringify(d)} (sha256:<64 hex> expected)`);
}

/** `algorithm:hex` of the bytes, with the algorithm of `like` (sha256 by default). */
export function digestOf(data: Buffer, like = 'sha256:'): string {
  const alg = like.slice(0, like.indexOf(':'));
  return `${alg}:${createHash(alg).update(data).digest('hex')}`;
}

function isDescriptor(d: unknown): d is Descriptor {
  const x = d as Descriptor;
  return !!x && typeof x === 'object' && typeof x.mediaType === 'string' && typeof x.digest === 'string' &&
    DIGEST.test(x.digest) && Number.isSafeInteger(x.size) && x.size >= 0;
}

/** Parses manifest bytes; `contentType` is the response's, possibly with parameters or generic. */
export function parseManifest(raw: Buffer, contentType: string | null, what: string): ParsedManifest {
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new RuntimeFailure(`${what}: the registry sent a manifest that is not JSON`);
  }
  const ct = (contentType ?? '').split(';')[0].trim().toLowerCase();
  const declared = typeof body.mediaType === 'string' ? body.mediaType : '';
  const specific = ct.startsWith('application/vnd.') ? ct : declared;
  if (body.schemaVersion === 1 || specific.startsWith('application/vnd.docker.distribution.manifest.v1+')) {
    throw new NotSupported(`${what}: schema 1 manifests are not supported`);
  }
  const looksIndex = Array.isArray(body.manifests);
  const mediaType = specific || (looksIndex ? OCI_INDEX : OCI_MANIFEST);
  if (mediaType === OCI_INDEX || mediaType === DOCKER_LIST) {
    if (!looksIndex || !(body.manifests as unknown[]).every(isDescriptor)) {
      throw new RuntimeFailure(`${what}: malformed ${mediaType}`);
    }
    return { kind: 'index', mediaType, index: body as unknown as ImageIndex };
  }
  if (mediaType === OCI_MANIFEST || mediaType === DOCKER_MANIFEST) {
    if (!isDescriptor(body.config) || !Array.isArray(body.layers) || !body.layers.every(isDescriptor)) {
      throw new RuntimeFailure(`${what}: malformed ${mediaType}`);
    }
    return { kind: 'manifest', mediaType, manifest: body as unknown as ImageManifest };
  }
  throw new NotSupported(`${what}: unsupported manifest media type ${mediaType}`);
}

const GO_ARCH: Record<string, string> = { x64: 'amd64', ia32: '386', ppc64: 'ppc64le' };

/** This machine's platform in OCI terms (what docker pulls by default). */
export function hostPlatform(): Platform {
  const architecture = GO_ARCH[process.arch] ?? process.arch;
  const p: Platform = { os: 'linux', architecture };
  if (architecture === 'arm') {
    const v = (process.config.variables as { arm_version?: string }).arm_version;
    if (v) p.variant = `v${v}`;
  }
  return p;
}

export function platformString(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

/** arm64 images usually leave out their (only) variant, v8; treat the two spellings alike. */
function sameVariant(arch: string, a: string | undefined, b: string | undefined): boolean {
  const norm = (v: string | undefined) => (arch === 'arm64' && v === 'v8' ? '' : (v ?? ''));
  return norm(a) === norm(b);
}

/**
 * The entry of a list for the platform: same os and architecture; with a variant asked, the same variant;
 * without one, a variant-less entry first, else the first of that architecture. Throws NotFound in docker's
 * words when nothing fits.
 */
export function selectPlatform(index: ImageIndex, want: Platform): Descriptor {
  const same = index.manifests.filter(
    (d) => d.platform?.os === want.os && d.platform?.architecture === want.architecture,
  );
  const pick = want.variant !== undefined
    ? same.find((d) => sameVariant(want.architecture, d.platform?.variant, want.variant))
    : (same.find((d) => sameVariant(want.architecture, d.platform?.variant, undefined)) ?? same[0]);
  if (!pick) throw new NotFound(`no matching manifest for ${platformString(want)} in the manifest list entries`);
  return pick;
}
