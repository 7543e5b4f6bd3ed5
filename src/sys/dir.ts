/** A directory's entry names, none when it cannot be read (missing, or gone meanwhile). */
import { readdirSync } from 'node:fs';

export function entriesOf(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
