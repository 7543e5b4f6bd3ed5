/**
 * The CRI's ImageService over the engine's image store: list, status (by id, tag or digest; a missing image is
 * an empty answer, not an error), pull with the client's credentials, remove (gone already is fine), and the
 * image filesystem's use. Names are given fully qualified, as containerd gives them (docker.io/library/busybox).
 */
import { statfsSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidArgument, NoSuchImage, NotFound } from '../errors.ts';
import type { Engine } from '../engine/engine.ts';
import type { ImageRow } from '../store/images.ts';
import { canonicalString, parseImageName } from '../registry/reference.ts';
import { nowNanos } from './convert.ts';

/** A stored name (familiar, as docker keeps it) in full: registry, path and tag or digest. */
function qualified(name: string): string {
  try {
    return canonicalString(parseImageName(name));
  } catch {
    return name;
  }
}

/** The image as the CRI describes it: tags and digests in full, its user as a uid or a name. */
function criImage(img: ImageRow) {
  const user = img.config.config.User ?? '';
  const head = user.split(':')[0] ?? '';
  const numeric = /^\d+$/.test(head);
  return {
    id: `sha256:${img.id}`,
    repo_tags: img.tags.map(qualified),
    repo_digests: img.repoDigests.map(qualified),
    size: String(img.size),
    uid: numeric ? { value: head } : null,
    username: numeric ? '' : head,
    spec: { image: `sha256:${img.id}`, annotations: {} },
    pinned: false,
  };
}

function lookup(engine: Engine, ref: string | undefined): ImageRow | undefined {
  if (!ref) throw new InvalidArgument('an image reference is required');
  return engine.images.lookup(ref);
}

export function listImages(engine: Engine, filter: { image?: { image?: string } | null } | null | undefined) {
  const want = filter?.image?.image;
  if (want) {
    const img = lookup(engine, want);
    return img ? [criImage(img)] : [];
  }
  return engine.listImages(true).map(criImage);
}

export function imageStatus(engine: Engine, ref: string | undefined, verbose: boolean) {
  const img = lookup(engine, ref);
  if (!img) return { image: null, info: {} };
  return { image: criImage(img), info: verbose ? { info: JSON.stringify({ config: img.config }) } : {} };
}

export interface CriAuth {
  username?: string;
  password?: string;
  auth?: string;
  server_address?: string;
  identity_token?: string;
  registry_token?: string;
}

/** The client's credentials (a base64 `auth` of user:password, or the two apart), for this pull only. */
function credentials(auth: CriAuth | null | undefined): { username: string; password: string } | undefined {
  if (!auth) return undefined;
  let { username = '', password = '' } = auth;
  if (auth.auth) {
    const text = Buffer.from(auth.auth, 'base64').toString('utf8');
    const i = text.indexOf(':');
    if (i < 0) throw new InvalidArgument('the auth of the pull is not base64 of user:password');
    username = text.slice(0, i);
    password = text.slice(i + 1);
  }
  if (!username && !password) return undefined;
  return { username, password };
}

export async function pullImage(engine: Engine, ref: string | undefined, auth: CriAuth | null | undefined): Promise<string> {
  if (!ref) throw new InvalidArgument('an image reference is required');
  const creds = credentials(auth);
  const r = await engine.pull(ref, creds ? { credentials: creds } : {});
  return `sha256:${r.id}`;
}

/** Remove the image and every name it has; one that is gone already is not an error. */
export function removeImage(engine: Engine, ref: string | undefined): void {
  const img = lookup(engine, ref);
  if (!img) return;
  try {
    engine.images.remove(img.id, true, () => 0);
  } catch (e) {
    if (!(e instanceof NoSuchImage) && !(e instanceof NotFound)) throw e;
  }
}

/** The filesystem the layers are on, and what the images use of it. */
export function imageFsInfo(engine: Engine) {
  const mountpoint = join(engine.root, 'layers');
  let inodes = 0;
  try {
    const s = statfsSync(engine.root);
    inodes = Number(s.files - s.ffree);
  } catch {
    // no statfs: inodes unknown
  }
  const used = engine.listImages(true).reduce((n, i) => n + i.size, 0);
  const fs = { timestamp: nowNanos(), fs_id: { mountpoint }, used_bytes: { value: String(used) }, inodes_used: { value: String(inodes) } };
  return { image_filesystems: [fs], container_filesystems: [] };
}
