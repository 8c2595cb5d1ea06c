import { BuildRoot } from '/work/wt/targets/dist/src/kernel/buildroot.js';
import { execa } from 'execa';
const r = new BuildRoot('/root/.cache/kelp', 'trixie', 'gcc-14');
const tree = process.argv[2];
const argv = r.wrap(['make', ...process.argv.slice(3)], tree, ['/root/.cache/kelp'], { LC_ALL: 'C' });
const p = await execa(argv[0], argv.slice(1), { reject: false, all: true });
console.log(p.all.split('\n').slice(-25).join('\n'), p.exitCode);
