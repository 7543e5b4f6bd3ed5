/**
 * Pod rows: a pod's name and its config, written once at create. A pod's state is its containers' (src/engine/pods/),
 * and which containers belong to it is each container's config.pod; only a pinned pod's namespaces (its state)
 * change after the insert.
 */
import { AlreadyExists } from '../errors.ts';
import type { PodConfig, PodState } from '../types.ts';
import { isUniqueViolation, type Db } from './db.ts';
import type { ContainerRow } from './containers.ts';

export interface PodRow {
  id: string;
  name: string;
  config: PodConfig;
  createdAt: string;
  /** A pinned pod's namespaces while it is up; {} otherwise. */
  state: PodState;
}

type Raw = Record<string, string>;

const fromRaw = (r: Raw): PodRow => ({ id: r.id!, name: r.name!, config: JSON.parse(r.config!) as PodConfig, createdAt: r.created_at!, state: JSON.parse(r.state ?? '{}') as PodState });

export class PodRepo {
  readonly db: Db;
  constructor(db: Db) {
    this.db = db;
  }

  insert(p: PodRow): void {
    try {
      this.db.prepare('INSERT INTO pods (id, name, config, created_at, state) VALUES (?, ?, ?, ?, ?)').run(p.id, p.name, JSON.stringify(p.config), p.createdAt, JSON.stringify(p.state));
    } catch (e) {
      if (isUniqueViolation(e)) throw new AlreadyExists(`the pod name "${p.name}" is already in use`);
      throw e;
    }
  }

  get(id: string): PodRow | undefined {
    const r = this.db.prepare('SELECT * FROM pods WHERE id = ?').get(id) as Raw | undefined;
    return r ? fromRaw(r) : undefined;
  }

  /** By full id, exact name, then unique id prefix; an ambiguous prefix returns the candidates. */
  lookup(ref: string): { row?: PodRow; ambiguous?: string[] } {
    const exact = this.db.prepare('SELECT * FROM pods WHERE id = ? OR name = ? ORDER BY id = ? DESC').get(ref, ref, ref) as Raw | undefined;
    if (exact) return { row: fromRaw(exact) };
    if (!/^[0-9a-f]+$/.test(ref)) return {};
    const rows = this.db.prepare('SELECT * FROM pods WHERE id >= ? AND id < ? LIMIT 2').all(ref, ref + 'g') as Raw[];
    if (rows.length === 1) return { row: fromRaw(rows[0]!) };
    if (rows.length > 1) return { ambiguous: rows.map((r) => r.id!) };
    return {};
  }

  /** Oldest first, as `pod ps` sorts after its own ordering. */
  list(): PodRow[] {
    return (this.db.prepare('SELECT * FROM pods ORDER BY created_at DESC, rowid DESC').all() as Raw[]).map(fromRaw);
  }

  /** The ids of the pod's containers, its infra container among them, oldest first. */
  memberIds(podId: string): string[] {
    const rows = this.db.prepare("SELECT id FROM containers WHERE json_extract(config, '$.pod') = ? ORDER BY created_at, rowid").all(podId) as Raw[];
    return rows.map((r) => r.id!);
  }

  /** Record a pinned pod's namespaces as they are now (each step as it is made, for an interrupted one's undo). */
  setState(id: string, state: PodState): void {
    this.db.prepare('UPDATE pods SET state = ? WHERE id = ?').run(JSON.stringify(state), id);
  }

  delete(id: string): void {
    this.db.prepare('DELETE FROM pods WHERE id = ?').run(id);
  }
}

/** The pod a container belongs to, by its config (a type guard for the verbs that treat members apart). */
export const podOf = (row: Pick<ContainerRow, 'config'>): string | undefined => row.config.pod;
