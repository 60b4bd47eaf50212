/**
 * Inclusive time (the function and everything it called) of the functions whose name matches a pattern,
 * from a V8 .cpuprofile: `node --import tsx bench/profile-inclusive.ts FILE [regexp] [count]`.
 */
import { codeOf, readProfile, type ProfileNode } from './profile-read.js';

const [file, pattern = '.', countArg = '40'] = process.argv.slice(2);
if (!file) throw new Error('usage: profile-inclusive.ts FILE [regexp] [count]');
const profile = readProfile(file);
const { byId, parent } = profile;
const label = (n: ProfileNode): string => `${n.callFrame.functionName || '(anonymous)'} ${codeOf(n)?.replace(/^npm:/, '') ?? n.callFrame.url.replace(/^file:\/\//, '')}`;
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
