/** Container ids and names: 64 hex ids, docker's name rule, and generated adjective_noun names. */
import { closeSync, openSync, readSync } from 'node:fs';
import { InvalidArgument } from '../errors.ts';

/** Random bytes from the kernel; node:crypto costs ~6 ms to load on the CLI's hot path, this does not. */
function random(n: number): Buffer {
  const b = Buffer.alloc(n);
  const fd = openSync('/dev/urandom', 'r');
  try {
    readSync(fd, b, 0, n, null);
  } finally {
    closeSync(fd);
  }
  return b;
}

function randomInt(max: number): number {
  return random(4).readUInt32LE(0) % max;
}

export function newId(): string {
  return random(32).toString('hex');
}

const VALID = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

export function validateName(name: string): string {
  const n = name.startsWith('/') ? name.slice(1) : name;
  if (!VALID.test(n)) throw new InvalidArgument(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  return n;
}

const LEFT = [
  'admiring', 'bold', 'brave', 'calm', 'clever', 'dreamy', 'eager', 'elated', 'festive', 'focused',
  'gallant', 'happy', 'hopeful', 'jolly', 'keen', 'kind', 'lucid', 'modest', 'nifty', 'optimistic',
  'peaceful', 'quirky', 'relaxed', 'serene', 'sharp', 'stoic', 'tender', 'upbeat', 'vibrant', 'zealous',
];
const RIGHT = [
  'albattani', 'banach', 'curie', 'darwin', 'euclid', 'fermat', 'galois', 'hopper', 'hypatia', 'jemison',
  'kepler', 'lamarr', 'lovelace', 'meitner', 'noether', 'pascal', 'ramanujan', 'shannon', 'tesla', 'turing',
];

export function randomName(): string {
  return `${LEFT[randomInt(LEFT.length)]}_${RIGHT[randomInt(RIGHT.length)]}${randomInt(10)}`;
}
