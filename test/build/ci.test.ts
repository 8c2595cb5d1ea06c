/**
 * examples/ci/livepatch.yml builds with the same script as `npm run example`, the
 * vmlinux example and this project's tests of them (examples/ci/build.sh),
 * so the CI job cannot drift from what the tests prove.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/paths.js';

const read = (p: string) => readFileSync(join(REPO_ROOT, p), 'utf8');
const SCRIPT = 'examples/ci/build.sh';

test('the workflow builds each release with examples/ci/build.sh, plans with plan.sh and bundles with kelp bundle', () => {
  const wf = read('examples/ci/livepatch.yml');
  expect(wf).toMatch(/^on:\n {2}push:\n {4}paths:\n {6}- '\*\*\.patch'$/m);
  expect(wf).toMatch(/^ {8}run: npm ci$/m);
  // Every kelp build of the pipeline goes through the shared script; kelp itself is called only to bundle.
  const runs = [...wf.matchAll(/(?:^|\s)(sh\s+\S+\.sh|bin\/kelp \w+|npx kelp|kelp build)\b/g)].map((m) => m[1]);
  expect(runs).toEqual(['sh examples/ci/plan.sh', `sh ${SCRIPT}`, 'bin/kelp bundle']);
  expect(wf).toMatch(/uses: actions\/upload-artifact@v4/);
  expect(wf).toMatch(/path: fix\.tar/);
});

test('npm run example and the vmlinux example run the same script with --verify', () => {
  const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
  expect(pkg.scripts.example).toBe('sh examples/oot/run.sh');
  for (const runner of ['examples/oot/run.sh', 'examples/vmlinux/run.sh', 'examples/module/run.sh']) {
    expect(read(runner)).toMatch(new RegExp(`exec sh ${SCRIPT.replace(/\./g, '\\.')} `));
  }
  const script = read(SCRIPT);
  expect(script).toMatch(/build .* --verify "\$@"/);
});
