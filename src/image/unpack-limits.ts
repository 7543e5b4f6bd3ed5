/**
 * What unpacking may take. A layer is measured by its uncompressed tar stream: that is what it expands to,
 * whatever the file system then stores (runs of zeros become holes, so a 20 GB layer of zeros costs little
 * disk and is still reported as 20 GB). Two caps come from the configuration (`max-layer-size`,
 * `max-image-size`: src/engine/daemon-config.ts): one layer's tar, and all of one image's layers together.
 * The image's count is a counter in a SharedArrayBuffer shared by every unpack of one pull or load, on
 * whichever worker thread it runs (src/image/unpack-pool.ts), so layers unpacked in parallel are held to one
 * total: the unpack whose bytes cross it fails, and so does any that adds more.
 *
 * And the disk: while a layer unpacks (or a load spools its archive), the free space of the file system is
 * read every so often (statfs) and the work stops when it falls below a reserve, the smaller of 2 GiB and 5%
 * of the file system, so an image never takes the last of a disk others need. Inodes likewise, where the
 * file system has a fixed number (ext4; not btrfs or xfs): a layer of a million empty files takes little
 * space and every inode, and is stopped below the smaller of 100,000 and 5% of them.
 *
 * A cap exceeded is an InvalidArgument (the content is refused), a disk below its reserve NoSpace; after
 * either, what the pull or load made is removed.
 */
import { statfsSync } from 'node:fs';
import { InvalidArgument, NoSpace } from '../errors.ts';
import { exactSize, roughSize } from '../units.ts';

/** The configured caps, in bytes of uncompressed tar. */
export interface SizeCaps {
  maxLayerSize: number;
  maxImageSize: number;
}

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

/** The caps unless configured (docker and podman have none): room for large images, far below a host's disk. */
export const DEFAULT_CAPS: SizeCaps = { maxLayerSize: 16 * GiB, maxImageSize: 64 * GiB };

/** The caps of one image's unpacks. Passed to worker threads as it is: the counter is shared, not copied. */
export interface ImageBudget extends SizeCaps {
  /** One BigInt64: the bytes counted against the image so far. */
  counter: SharedArrayBuffer;
}

/** What an unpack is held to: an image's budget (none for a commit: the container's own files) and the disk. */
export interface UnpackLimits {
  budget?: ImageBudget;
  /** A path on the file system whose free space is watched. */
  disk: string;
}

export function imageBudget(caps: SizeCaps): ImageBudget {
  return { maxLayerSize: caps.maxLayerSize, maxImageSize: caps.maxImageSize, counter: new SharedArrayBuffer(8) };
}

/** Count bytes against the image (a layer already in the store counts with its recorded size). */
export function chargeImage(b: ImageBudget, bytes: number): void {
  const total = Number(Atomics.add(new BigInt64Array(b.counter), 0, BigInt(bytes))) + bytes;
  if (total > b.maxImageSize) throw new InvalidArgument(`the image expands to more than ${exactSize(b.maxImageSize)} (max-image-size)`);
}

/**
 * The largest archive that may still expand to no more than `max`: compression makes incompressible data
 * a little larger (gzip's stored blocks add 5 bytes in 64 KiB, zstd's raw blocks 3 in 128 KiB), so a
 * compressed size over this bound cannot be a tar within it.
 */
export function archiveBound(max: number): number {
  return max + Math.ceil(max / 1024) + (64 << 10);
}

/** Refuse a layer archive (a registry's descriptor, a member of a loaded archive) too large to be within the cap. */
export function checkArchiveSize(size: number, caps: SizeCaps): void {
  if (size > archiveBound(caps.maxLayerSize)) {
    throw new InvalidArgument(`its archive alone is ${roughSize(size)}, more than the ${exactSize(caps.maxLayerSize)} a layer may expand to (max-layer-size)`);
  }
}

/** statfs's numbers the free-space decision reads; `files` is 0 where inodes are made as needed. */
export interface SpaceFacts {
  bsize: number;
  blocks: number;
  bavail: number;
  files?: number;
  ffree?: number;
}

export interface SpaceVerdict {
  free: number;
  reserve: number;
  /** Free inodes and those kept free; both Infinity where the file system has no fixed number. */
  freeInodes: number;
  inodeReserve: number;
  enough: boolean;
}

/**
 * Whether a file system has room to go on: `free` (available to users, as df's Avail) against the reserve,
 * the smaller of 2 GiB and 5% of its size; free inodes against the smaller of 100,000 and 5% of them.
 */
export function spaceVerdict(s: SpaceFacts): SpaceVerdict {
  const free = s.bavail * s.bsize;
  const reserve = Math.min(2 * GiB, Math.floor(s.blocks * s.bsize * 0.05));
  const fixed = (s.files ?? 0) > 0;
  const freeInodes = fixed ? (s.ffree ?? 0) : Infinity;
  const inodeReserve = fixed ? Math.min(100_000, Math.floor(s.files! * 0.05)) : Infinity;
  return { free, reserve, freeInodes, inodeReserve, enough: free >= reserve && (!fixed || freeInodes >= inodeReserve) };
}

/** A tar entry takes at least one 512-byte header: bytes read bound the inodes an unpack can have made. */
const TAR_BLOCK = 512;

/** The largest piece counted at once (a statfs is read between pieces at most every interval). */
const GRAIN = 64 * 1024;

/**
 * Bytes written between two reads of the free space: 64 MiB (a statfs costs microseconds), less on a file
 * system whose reserve is small, so that at most half the reserve (of bytes, and of inodes at one per tar
 * header) goes between two reads.
 */
export function checkInterval(reserve: number, inodeReserve = Infinity): number {
  const byInodes = Number.isFinite(inodeReserve) ? Math.floor(inodeReserve / 2) * TAR_BLOCK : Infinity;
  return Math.min(64 * MiB, byInodes, Math.max(MiB, Math.floor(reserve / 2)));
}

/** NoSpace when writing `bytes` more (a download) would take the file system of `path` below its reserve. */
export function checkRoom(path: string, bytes: number, statfs: (path: string) => SpaceFacts = statfsSync): void {
  const v = spaceVerdict(statfs(path));
  if (v.free - bytes < v.reserve) {
    throw new NoSpace(`${roughSize(bytes)} would leave ${roughSize(Math.max(0, v.free - bytes))} free on the file system of ${path}, less than the ${roughSize(v.reserve)} kept free`);
  }
}

/** Reads the free space of a file system every `checkInterval` bytes; NoSpace when it is below the reserve. */
export class DiskWatch {
  readonly #path: string;
  readonly #statfs: (path: string) => SpaceFacts;
  #interval = 0;
  #since = 0;

  constructor(path: string, statfs: (path: string) => SpaceFacts = statfsSync) {
    this.#path = path;
    this.#statfs = statfs;
    this.check();
  }

  /** Count bytes about to be written. */
  add(bytes: number): void {
    this.#since += bytes;
    if (this.#since >= this.#interval) this.check();
  }

  /** The most bytes to hand on at once: at most the interval, so that a piece cannot pass a whole one. */
  grain(): number {
    return Math.min(GRAIN, this.#interval);
  }

  check(): void {
    const v = spaceVerdict(this.#statfs(this.#path));
    if (v.free < v.reserve) {
      throw new NoSpace(`stopped with ${roughSize(v.free)} free on the file system of ${this.#path}, less than the ${roughSize(v.reserve)} kept free`);
    }
    if (v.freeInodes < v.inodeReserve) {
      throw new NoSpace(`stopped with ${v.freeInodes} free inodes on the file system of ${this.#path}, less than the ${v.inodeReserve} kept free`);
    }
    this.#since = 0;
    this.#interval = checkInterval(v.reserve, v.inodeReserve);
  }
}

/** Counts one layer's tar stream as it is read: against the layer's cap, the image's and the disk. */
export class LayerMeter {
  readonly #budget?: ImageBudget;
  readonly #disk: DiskWatch;
  #bytes = 0;
  /** Bytes counted against the image's budget. */
  #charged = 0;

  constructor(limits: UnpackLimits, statfs?: (path: string) => SpaceFacts) {
    this.#budget = limits.budget;
    this.#disk = new DiskWatch(limits.disk, statfs);
  }

  /** The most bytes to count at once (see DiskWatch.grain). */
  grain(): number {
    return this.#disk.grain();
  }

  add(bytes: number): void {
    this.#bytes += bytes;
    const b = this.#budget;
    if (b) {
      if (this.#bytes > b.maxLayerSize) throw new InvalidArgument(`expands to more than ${exactSize(b.maxLayerSize)} (max-layer-size)`);
      this.#charged += bytes;
      chargeImage(b, bytes);
    }
    this.#disk.add(bytes);
  }

  /** Take back what was counted against the image: a failed unpack may be done again (a download that restarted). */
  refund(): void {
    if (this.#budget && this.#charged > 0) Atomics.sub(new BigInt64Array(this.#budget.counter), 0, BigInt(this.#charged));
    this.#charged = 0;
  }
}
