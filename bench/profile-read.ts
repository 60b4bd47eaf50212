/**
 * Reading a V8 .cpuprofile (from `node --cpu-prof`), shared by the profile-*.ts scripts: the nodes by id,
 * each node's parent, and where a node's code lives (`npm:<package>`, `src/<file>`, or undefined for Node's
 * own code and native frames).
 */
import { readFileSync } from 'node:fs';

export interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

export interface ReadProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  byId: Map<number, ProfileNode>;
  parent: Map<number, number>;
}

export function readProfile(file: string): ReadProfile {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] };
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  return { ...profile, byId: new Map(profile.nodes.map((n) => [n.id, n])), parent };
}

/** `npm:<package>` for node_modules, `src/…`, `bench/…` or `test/…` for this project's files, else undefined. */
export function codeOf(n: ProfileNode): string | undefined {
  const url = n.callFrame.url.replace(/^file:\/\//, '');
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1];
  if (pkg) return `npm:${pkg}`;
  const own = /\/(src|bench|test)\/(.*)$/.exec(url);
  return own ? `${own[1]}/${own[2]}` : undefined;
}
