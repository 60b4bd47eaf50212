/**
 * Where the package's files are, whether Switchboard runs from `dist/` (built) or from `src/` (tsx):
 * the package root is the nearest folder above this module that holds Switchboard's package.json.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

export function packageRoot(): string {
  if (root) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      try {
        if ((JSON.parse(readFileSync(file, 'utf8')) as { name?: string }).name === 'switchboard') return (root = dir);
      } catch {
        // not ours: keep looking
      }
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error('switchboard: cannot find the package root (package.json) above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

export function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version?: string }).version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** The dashboard's hand-written files (HTML, CSS). */
export const webSourceDir = (): string => join(packageRoot(), 'web');
/** The dashboard's compiled modules (`npm run build` → tsc -p web/tsconfig.json). */
export const webBuildDir = (): string => join(packageRoot(), 'dist', 'web');
