/**
 * Inclusive time (the function and everything it called) of the functions whose name matches a pattern,
 * from a V8 .cpuprofile: `node --import tsx bench/profile-inclusive.ts FILE [regexp] [count]`.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
const [file, pattern = '.', countArg = '40'] = process.argv.slice(2);
if (!file) throw new Error('usage: profile-inclusive.ts FILE [regexp] [count]');
const profile = JSON.parse(readFileSync(file, 'utf8')) as { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] };
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const label = (n: ProfileNode): string => {
  const url = n.callFrame.url.replace(/^file:\/\//, '');
  const short = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1] ?? /\/(src|bench)\/(.*)$/.exec(url)?.slice(1).join('/') ?? url;
  return `${n.callFrame.functionName || '(anonymous)'} ${short}`;
};
const re = new RegExp(pattern);
const total = new Map<string, number>();
let all = 0;
let idle = 0;
for (let i = 0; i < profile.samples.length; i++) {
  const dt = profile.timeDeltas[i] ?? 0;
  all += dt;
  let id: number | undefined = profile.samples[i];
  if (byId.get(id!)?.callFrame.functionName === '(idle)') idle += dt;
  const seen = new Set<string>();
  while (id !== undefined) {
    const n = byId.get(id)!;
    const name = label(n);
    if (!seen.has(name) && re.test(name)) {
      seen.add(name);
      total.set(name, (total.get(name) ?? 0) + dt);
    }
    id = parent.get(id);
  }
}
console.log(`${(all / 1e6).toFixed(2)} s sampled, ${((all - idle) / 1e6).toFixed(2)} s busy`);
for (const [name, us] of [...total].sort((a, b) => b[1] - a[1]).slice(0, Number(countArg))) {
  console.log(`${((100 * us) / (all - idle)).toFixed(1).padStart(5)}% of busy  ${(us / 1000).toFixed(0).padStart(7)} ms  ${name}`);
}
