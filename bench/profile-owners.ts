/**
 * Self time attributed to its nearest owner in a V8 .cpuprofile: each sample goes to the innermost frame
 * that is Switchboard's code (src/ file) or a package (npm name), so Node's internals and native code count
 * for whoever called them (`writev` under undici counts for undici). `node --import tsx bench/profile-owners.ts
 * FILE [count] [--by file|package]`: by file (default) or by top-level concern (src folder or package).
 */
import { codeOf, readProfile, type ProfileNode } from './profile-read.js';

const args = process.argv.slice(2);
const by = args.includes('--by') ? args[args.indexOf('--by') + 1] : 'file';
const [file, countArg = '40'] = args.filter((a, i) => !a.startsWith('--') && args[i - 1] !== '--by');
if (!file) throw new Error('usage: profile-owners.ts FILE [count] [--by file|package]');
const profile = readProfile(file);
const { byId, parent } = profile;
/** By file, or by top-level concern (a src/ folder, a package). */
const owner = (n: ProfileNode): string | undefined => {
  const code = codeOf(n);
  if (!code || code.startsWith('npm:') || by !== 'package') return code;
  const [root, first] = code.split('/');
  return `${root}/${first!.replace(/\.ts$/, '')}`;
};
const total = new Map<string, number>();
let all = 0;
let idle = 0;
for (let i = 0; i < profile.samples.length; i++) {
  const dt = profile.timeDeltas[i] ?? 0;
  all += dt;
  let id: number | undefined = profile.samples[i];
  const leaf = byId.get(id!)!;
  if (leaf.callFrame.functionName === '(idle)') {
    idle += dt;
    continue;
  }
  let name: string | undefined;
  while (id !== undefined && name === undefined) {
    name = owner(byId.get(id)!);
    id = parent.get(id);
  }
  name ??= `node/native: ${leaf.callFrame.functionName || '(anonymous)'}`;
  total.set(name, (total.get(name) ?? 0) + dt);
}
console.log(`${(all / 1e6).toFixed(2)} s sampled, ${((all - idle) / 1e6).toFixed(2)} s busy`);
for (const [name, us] of [...total].sort((a, b) => b[1] - a[1]).slice(0, Number(countArg))) {
  console.log(`${((100 * us) / (all - idle)).toFixed(1).padStart(5)}% of busy  ${(us / 1000).toFixed(0).padStart(7)} ms  ${name}`);
}
