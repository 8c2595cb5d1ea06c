/**
 * examples/ci/livepatch.yml runs the same script as `npm run example`, the
 * vmlinux example and this project's tests of them (examples/ci/build.sh),
 * so the CI job cannot drift from what the tests prove.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/paths.js';

const read = (p: string) => readFileSync(join(REPO_ROOT, p), 'utf8');
const SCRIPT = 'examples/ci/build.sh';

test('the workflow builds changed .patch files with examples/ci/build.sh and keeps .ko and .json artifacts', () => {
  const wf = read('examples/ci/livepatch.yml');
  expect(wf).toMatch(/^on:\n {2}push:\n {4}paths:\n {6}- '\*\*\.patch'$/m);
  expect(wf).toMatch(/^ {8}run: npm ci$/m);
  // Every kelp invocation of the job goes through the shared script; nothing calls bin/kelp directly.
  const runs = [...wf.matchAll(/(?:^|\s)(sh\s+\S+\.sh|bin\/kelp|npx kelp|kelp build)\b/g)].map((m) => m[1]);
  expect(runs).toEqual([`sh ${SCRIPT}`]);
  expect(wf).toMatch(/uses: actions\/upload-artifact@v4/);
  expect(wf).toMatch(/livepatch-out\/\*\*\/\*\.ko/);
  expect(wf).toMatch(/livepatch-out\/\*\*\/\*\.json/);
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
