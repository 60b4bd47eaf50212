/**
 * Reads a V8 .cpuprofile (from `node --cpu-prof`) and prints the functions with the most self time, and
 * the same grouped by file (package for node_modules).
 *   node --import tsx bench/profile-top.ts <file.cpuprofile> [count]
 */
import { codeOf, readProfile, type ProfileNode } from './profile-read.js';

const file = process.argv[2];
if (!file) throw new Error('usage: profile-top.ts <file.cpuprofile> [count]');
const count = Number(process.argv[3] ?? 30);
const profile = readProfile(file);
const { byId } = profile;
const self = new Map<number, number>();
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i]!;
  self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
}
const total = [...self.values()].reduce((a, b) => a + b, 0);
const where = (n: ProfileNode): string => codeOf(n) ?? (n.callFrame.url.replace(/^file:\/\//, '') || '(native)');
const fns = new Map<string, number>();
const files = new Map<string, number>();
for (const [id, us] of self) {
  const n = byId.get(id)!;
  const name = `${n.callFrame.functionName || '(anonymous)'}  ${where(n)}:${n.callFrame.lineNumber + 1}`;
  fns.set(name, (fns.get(name) ?? 0) + us);
  const f = where(n);
  files.set(f, (files.get(f) ?? 0) + us);
}
const pct = (us: number): string => `${((100 * us) / total).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(7)} ms`;
console.log(`${file}: ${(total / 1e6).toFixed(2)} s sampled`);
console.log('\nself time by function');
for (const [name, us] of [...fns].sort((a, b) => b[1] - a[1]).slice(0, count)) console.log(`${pct(us)}  ${name}`);
console.log('\nself time by file / package');
for (const [name, us] of [...files].sort((a, b) => b[1] - a[1]).slice(0, count)) console.log(`${pct(us)}  ${name}`);
