/**
 * bin/kelpctl against a scratch /sys, /proc, /var/lib/kelp and /etc, under
 * busybox ash, dash and bash. The module files are real ELF objects with a
 * real .modinfo section; insmod/rmmod are stand-ins that create and remove
 * the sysfs entries (see harness.ts).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  FakeSystem,
  KELPCTL,
  publicKelpctl,
  RUNNING_RELEASE,
  SHELLS,
  buildModule,
  ensureCommands,
  isRoot,
  vermagic,
} from './harness.js';
import { kelpctlMessage } from '../../src/target/run.js';

const EX = {
  fail: 1,
  usage: 2,
  notRoot: 3,
  noLivepatch: 4,
  wrongKernel: 5,
  notLivepatch: 6,
  notLoaded: 7,
  busy: 8,
  timeout: 9,
  loaded: 10,
};

let mods: string;
let good: string; // livepatch for the running kernel, name lp_good
let good2: string; // a second one, name lp_second
let other: string; // built for another kernel release
let plain: string; // no livepatch=Y
let cold: string; // replaces functions with old .cold parts (modinfo kelp_cold=)
let notElf: string;
let goodXz: string;

beforeAll(() => {
  ensureCommands({ gcc: 'gcc', objcopy: 'binutils', busybox: 'busybox-static', dash: 'dash', setpriv: 'util-linux' });
  if (!isRoot()) throw new Error('the kelpctl tests run kelpctl as root (as it runs on a host); run them as root');
  mods = fs.mkdtempSync(path.join(os.tmpdir(), 'kelpctl-mods-'));
  good = buildModule(mods, 'lp-good.ko', {
    modinfo: ['license=GPL', 'livepatch=Y', 'description=test patch', 'depends=', 'name=lp_good', vermagic(RUNNING_RELEASE)],
    sections: ['.klp.rela.vmlinux..text.unlikely', '.klp.rela.nfsd..text'],
  });
  good2 = buildModule(mods, 'lp_second.ko', {
    modinfo: ['livepatch=Y', 'name=lp_second', vermagic(RUNNING_RELEASE)],
  });
  other = buildModule(mods, 'lp_other.ko', {
    modinfo: ['livepatch=Y', 'name=lp_other', vermagic('9.9.9-other-amd64')],
  });
  plain = buildModule(mods, 'plain.ko', {
    modinfo: ['license=GPL', 'name=plain', vermagic(RUNNING_RELEASE)],
  });
  cold = buildModule(mods, 'lp_cold.ko', {
    modinfo: ['livepatch=Y', 'name=lp_cold', vermagic(RUNNING_RELEASE), 'kelp_cold=vmlinux:foo_show.cold', 'kelp_cold=mymod:bar_work.cold.1'],
  });
  // Debian 6.12 ships modules xz-compressed (.ko.xz).
  goodXz = path.join(mods, 'lp-good.ko.xz');
  fs.writeFileSync(goodXz, execFileSync('xz', ['-c', '--check=crc32', good]));
  notElf = path.join(mods, 'text.ko');
  fs.writeFileSync(notElf, 'livepatch=Y\0name=text\0');
});

afterAll(() => {
  if (mods) fs.rmSync(mods, { recursive: true, force: true });
});

describe('shellcheck', () => {
  it('passes shellcheck with POSIX sh as the target shell', () => {
    ensureCommands({ shellcheck: 'shellcheck' });
    const r = spawnSync('shellcheck', ['-s', 'sh', KELPCTL], { encoding: 'utf8' });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});

describe.each(SHELLS)('kelpctl under $name', ({ argv: shell }) => {
  let sys: FakeSystem;
  beforeEach(() => {
    sys = new FakeSystem();
  });
  afterEach(() => sys.cleanup());

  describe('usage', () => {
    it('prints help with the exit codes', () => {
      const r = sys.run(shell, ['--help']);
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/^Usage: kelpctl COMMAND/);
      for (const cmd of ['load', 'unload', 'disable', 'list', 'info', 'install', 'uninstall']) {
        expect(r.stdout).toMatch(new RegExp(`^  ${cmd} `, 'm'));
      }
      expect(r.stdout).toMatch(/^ {2}3 {2}not running as root$/m);
      expect(r.stdout).toMatch(/^ {2}9 {2}transition did not finish/m);
    });

    it.each([
      [[], /usage: kelpctl COMMAND/],
      [['frobnicate'], /unknown command 'frobnicate'/],
      [['load'], /usage: kelpctl load FILE\.ko/],
      [['load', 'a.ko', 'b.ko'], /usage: kelpctl load FILE\.ko/],
      [['load', 'a.ko', '--timeout', 'soon'], /--timeout wants a positive whole number of seconds, not 'soon'/],
      [['load', 'a.ko', '--timeout'], /--timeout needs a number/],
      [['unload', '--bogus', 'x'], /unknown option --bogus/],
      [['list', 'extra'], /usage: kelpctl list/],
      [['info'], /usage: kelpctl info FILE\.ko/],
    ])('%j is a usage error', (args, message) => {
      const r = sys.run(shell, args as string[]);
      expect(r.status).toBe(EX.usage);
      expect(r.stderr).toMatch(message as RegExp);
      expect(r.stderr.split('\n')[0]).toMatch(/^kelpctl: usage: /);
      expect(sys.calls()).toEqual([]);
    });
  });

  describe('info', () => {
    it('shows name, vermagic, livepatch flag and klp relocation objects of a module file', () => {
      const r = sys.run(shell, ['info', good]);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout).toContain('name:      lp_good\n');
      expect(r.stdout).toContain(`vermagic:  ${RUNNING_RELEASE} SMP preempt mod_unload modversions \n`);
      expect(r.stdout).toContain(`release:   ${RUNNING_RELEASE} (running kernel)\n`);
      expect(r.stdout).toContain('livepatch: Y\n');
      expect(r.stdout).toContain('description: test patch\n');
      expect(r.stdout).toContain('license:   GPL\n');
      expect(r.stdout).toContain('klp relocations against: nfsd,vmlinux\n');
      expect(r.stdout).toContain('state:     not loaded');
    });

    it('adds the objects and functions from sysfs once the patch is applied', () => {
      sys.addPatch('lp_good', { objects: { vmlinux: ['cmdline_proc_show,1', 'meminfo_proc_show,0'], nfsd: ['nfsd_open,1'] } });
      const r = sys.run(shell, ['info', good]);
      expect(r.status).toBe(0);
      expect(r.stdout).toContain('state:     applied, enabled=1 transition=0\n');
      expect(r.stdout).toContain('object:    vmlinux: cmdline_proc_show,1 meminfo_proc_show,0\n');
      expect(r.stdout).toContain('object:    nfsd: nfsd_open,1\n');
    });

    it('reports a module for another release and one without the livepatch flag', () => {
      let r = sys.run(shell, ['info', other]);
      expect(r.status).toBe(0);
      expect(r.stdout).toContain(`release:   9.9.9-other-amd64 (not the running kernel, ${RUNNING_RELEASE})\n`);
      r = sys.run(shell, ['info', plain]);
      expect(r.status).toBe(0);
      expect(r.stdout).toContain('livepatch: no\n');
      expect(r.stdout).toContain('klp relocations against: -\n');
    });

    it('refuses files that are not modules', () => {
      let r = sys.run(shell, ['info', notElf]);
      expect(r.status).toBe(1);
      expect(r.stderr).toBe(`kelpctl: ${notElf}: not an ELF file\n`);
      r = sys.run(shell, ['info', path.join(mods, 'missing.ko')]);
      expect(r.status).toBe(1);
      expect(r.stderr).toBe(`kelpctl: ${path.join(mods, 'missing.ko')}: no such file\n`);
    });
  });

  describe('compressed modules (.ko.xz)', () => {
    it('info reads the modinfo of an xz-compressed module', () => {
      const r = sys.run(shell, ['info', goodXz]);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout).toContain('name:      lp_good\n');
      expect(r.stdout).toContain('klp relocations against: nfsd,vmlinux\n');
    });

    it('load hands insmod a decompressed copy, and removes it afterwards', () => {
      const r = sys.run(shell, ['load', goodXz], { FAKE_FLIP_AFTER: '0.2' });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const calls = sys.calls();
      expect(calls).toHaveLength(1);
      expect(calls[0]).toMatch(/^insmod \S+\/kelpctl\.\d+\.ko$/);
      expect(fs.existsSync(calls[0].slice('insmod '.length))).toBe(false);
    });

    it('a corrupt .ko.xz is one clear line', () => {
      const bad = path.join(mods, 'bad.ko.xz');
      fs.writeFileSync(bad, Buffer.concat([fs.readFileSync(goodXz).subarray(0, 40), Buffer.alloc(40)]));
      const r = sys.run(shell, ['load', bad]);
      expect(r.status).toBe(EX.fail);
      expect(r.stderr).toBe(`kelpctl: ${bad}: cannot decompress it (xz)\n`);
    });
  });

  describe('load', () => {
    it('inserts the module and waits for the transition to finish', () => {
      const r = sys.run(shell, ['load', good], { FAKE_FLIP_AFTER: '1' });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout).toContain('kelpctl: lp_good: loaded, transition complete\n');
      expect(r.ms).toBeGreaterThanOrEqual(900);
      expect(sys.calls()).toEqual([`insmod ${good}`]);
      expect(sys.read('sys/kernel/livepatch/lp_good/transition')).toBe('0\n');
      // A transition this short is not signalled.
      expect(sys.read('sys/kernel/livepatch/lp_good/signal')).toBe('');
    });

    it('names each task asleep in an old .cold part of a replaced function (modinfo kelp_cold=), which the transition does not wait for', () => {
      sys.addTask(100, 'cold-sleeper', 1, '[<0>] msleep_interruptible+0x1/0x2\n[<0>] foo_show.cold+0x1c/0x30\n[<0>] kthread+0xe8/0x110\n');
      sys.addTask(101, 'mod-worker', 1, '[<0>] schedule+0x1/0x2\n[<0>] bar_work.cold.1+0x3/0x10 [mymod]\n');
      // Not in a recorded part: another module's symbol of the same name, the function's own body, vmlinux's name in a module.
      sys.addTask(102, 'other-mod', 1, '[<0>] bar_work.cold.1+0x3/0x10 [othermod]\n');
      sys.addTask(103, 'in-body', 1, '[<0>] foo_show+0x10/0x50\n');
      sys.addTask(104, 'mod-foo', 1, '[<0>] foo_show.cold+0x1c/0x30 [mymod]\n');
      const r = sys.run(shell, ['load', cold], { FAKE_FLIP_AFTER: '1' });
      expect(r.status).toBe(0);
      expect(r.stdout).toContain('kelpctl: lp_cold: loaded, transition complete\n');
      // Once each, however long the transition.
      expect(r.stderr.split('\n').filter((l) => l !== '')).toEqual([
        'kelpctl: lp_cold: task 100 (cold-sleeper) is in foo_show.cold (vmlinux), an old .cold part of a function the patch replaces: the transition does not wait for it, and it returns into the old code',
        'kelpctl: lp_cold: task 101 (mod-worker) is in bar_work.cold.1 (mymod), an old .cold part of a function the patch replaces: the transition does not wait for it, and it returns into the old code',
      ]);
    });

    // The stall lasts until the test ends it, once kelpctl has reported it:
    // kelpctl counts ticks, which a loaded machine stretches, so a timer in
    // the fake could end the stall before kelpctl's half-time step.
    const endStallOn = (note: string) => (out: string) => {
      if (out.includes(note)) fs.writeFileSync(path.join(sys.lp, 'lp_good', 'transition'), '0\n');
    };

    it('signals the blocking tasks after half the timeout and keeps waiting', async () => {
      const note = 'kelpctl: lp_good: transition stalled after 1s, signalling blocking tasks\n';
      const r = await sys.runAsync(shell, ['load', good, '--timeout', '2'], { FAKE_FLIP_AFTER: 'never' }, endStallOn(note));
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout).toContain(note);
      expect(r.stdout).toContain('kelpctl: lp_good: loaded, transition complete\n');
      expect(sys.read('sys/kernel/livepatch/lp_good/signal')).toBe('1\n');
    });

    it('without a signal file (Linux 5.1 and later) says the kernel signals by itself, and keeps waiting', async () => {
      const note = 'kelpctl: lp_good: transition stalled after 1s; no signal file, the kernel signals blocking tasks itself after 15s\n';
      const r = await sys.runAsync(shell, ['load', good, '--timeout', '2'], { FAKE_FLIP_AFTER: 'never', FAKE_NO_SIGNAL: '1' }, endStallOn(note));
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout).toContain(note);
      expect(r.stdout).toContain('kelpctl: lp_good: loaded, transition complete\n');
      expect(fs.existsSync(path.join(sys.root, 'sys/kernel/livepatch/lp_good/signal'))).toBe(false);
    });

    it('on timeout names the tasks that still block and leaves the patch in transition', () => {
      sys.addTask(100, 'stuck-daemon', 0, '[<0>] do_nanosleep+0x6c/0x140\n[<0>] hrtimer_nanosleep+0x8e/0x120\n');
      sys.addTask(101, 'switched', 1, '[<0>] ep_poll+0x2a/0x40\n');
      sys.addTask(102, 'idle-task', -1, '');
      sys.addTask(103, 'no-stack', 0);
      // A process whose main thread switched but another thread did not.
      sys.addTask(300, 'worker', 1, '[<0>] futex_wait+0x1/0x2\n', 300);
      sys.addTask(300, 'worker-io', 0, '[<0>] io_schedule+0x3/0x4\n', 301);
      const r = sys.run(shell, ['load', good, '--timeout=2'], { FAKE_FLIP_AFTER: 'never' });
      expect(r.status).toBe(EX.timeout);
      expect(r.ms).toBeGreaterThanOrEqual(1900);
      const err = r.stderr.split('\n');
      expect(err[0]).toBe('kelpctl: lp_good: transition not finished after 2s; left in transition, tasks still blocking it:');
      expect(r.stderr).toContain('  task 100 (stuck-daemon): patch_state 0, target 1\n      [<0>] do_nanosleep+0x6c/0x140\n      [<0>] hrtimer_nanosleep+0x8e/0x120\n');
      expect(r.stderr).toContain('  task 103 (no-stack): patch_state 0, target 1\n      (stack not readable)\n');
      expect(r.stderr).toContain('  task 301 (worker-io): patch_state 0, target 1\n      [<0>] io_schedule+0x3/0x4\n');
      expect(r.stderr).not.toContain('task 300 ');
      // kelp target run reports this as the module's error: the message and the blocking tasks, not a stack line.
      expect(kelpctlMessage(r.stderr)).toBe('kelpctl: lp_good: transition not finished after 2s; left in transition, tasks still blocking it: task 100 (stuck-daemon), task 103 (no-stack), task 301 (worker-io)');
      expect(r.stderr).not.toContain('switched');
      expect(r.stderr).not.toContain('idle-task');
      expect(sys.read('sys/kernel/livepatch/lp_good/signal')).toBe('1\n');
      expect(sys.read('sys/kernel/livepatch/lp_good/transition')).toBe('1\n');
      expect(sys.read('sys/kernel/livepatch/lp_good/enabled')).toBe('1\n');
      expect(sys.calls()).toEqual([`insmod ${good}`]);
    });

    it('refuses a module without livepatch=Y', () => {
      const r = sys.run(shell, ['load', plain]);
      expect(r.status).toBe(EX.notLivepatch);
      expect(r.stderr).toBe(`kelpctl: ${plain}: not a livepatch module (no livepatch=Y in its modinfo)\n`);
      expect(sys.calls()).toEqual([]);
    });

    it('refuses a module built for another kernel release', () => {
      const r = sys.run(shell, ['load', other]);
      expect(r.status).toBe(EX.wrongKernel);
      expect(r.stderr).toBe(`kelpctl: ${other}: built for kernel 9.9.9-other-amd64, running kernel is ${RUNNING_RELEASE}\n`);
      expect(sys.calls()).toEqual([]);
    });

    it('refuses a non-ELF file even if it contains livepatch=Y', () => {
      const r = sys.run(shell, ['load', notElf]);
      expect(r.status).toBe(1);
      expect(r.stderr).toBe(`kelpctl: ${notElf}: not an ELF file\n`);
      expect(sys.calls()).toEqual([]);
    });

    it('refuses to load a module that is already loaded', () => {
      sys.addPatch('lp_good');
      const r = sys.run(shell, ['load', good]);
      expect(r.status).toBe(EX.loaded);
      expect(r.stderr).toBe('kelpctl: lp_good: already loaded (unload it first)\n');
      expect(sys.calls()).toEqual([]);
    });

    it('refuses to load while another patch is in transition', () => {
      sys.addPatch('lp_busy', { transition: 1 });
      const r = sys.run(shell, ['load', good]);
      expect(r.status).toBe(EX.busy);
      expect(r.stderr).toBe('kelpctl: lp_good: cannot load while patch lp_busy is in transition\n');
      expect(sys.calls()).toEqual([]);
    });

    it('reports a failing insmod', () => {
      const r = sys.run(shell, ['load', good], { FAKE_INSMOD_FAIL: '1' });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`kelpctl: ${good}: insmod failed\n`);
    });

    it('says so when the kernel has no livepatch support', () => {
      const bare = new FakeSystem({ livepatch: false });
      try {
        for (const args of [['load', good], ['list'], ['disable', 'lp_good'], ['unload', 'lp_good']]) {
          const r = bare.run(shell, args);
          expect(r.status).toBe(EX.noLivepatch);
          expect(r.stderr).toBe(`kelpctl: ${args[0]}: the kernel has no livepatch support (${bare.lp} is missing)\n`);
        }
        expect(bare.calls()).toEqual([]);
      } finally {
        bare.cleanup();
      }
    });

    it('refuses to run privileged commands when not root', () => {
      const pub = publicKelpctl();
      try {
        for (const args of [['load', good], ['unload', 'lp_good'], ['disable', 'lp_good'], ['install', good], ['uninstall', 'lp_good']]) {
          const r = sys.run(shell, args, {}, ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'], pub.script);
          expect(r.status).toBe(EX.notRoot);
          expect(r.stderr).toBe(`kelpctl: ${args[0]}: must be run as root\n`);
        }
      } finally {
        pub.cleanup();
      }
      expect(sys.calls()).toEqual([]);
    });
  });

  describe('list', () => {
    it('shows applied patches with their state and objects, and installed ones', () => {
      sys.addPatch('lp_a', { objects: { vmlinux: ['f,1'], ext4: ['g,1'] } });
      sys.addPatch('lp_b', { enabled: 0, transition: 1, objects: { vmlinux: ['h,1'] } });
      sys.addModule('lp_old', 'OEK'); // loaded, disabled or replaced
      sys.addModule('ext4', ''); // not a livepatch module
      fs.mkdirSync(path.join(sys.state, RUNNING_RELEASE), { recursive: true });
      fs.copyFileSync(good, path.join(sys.state, RUNNING_RELEASE, 'lp_good.ko'));
      fs.mkdirSync(path.join(sys.state, '9.9.9-other-amd64'), { recursive: true });
      fs.copyFileSync(other, path.join(sys.state, '9.9.9-other-amd64', 'lp_other.ko'));
      const r = sys.run(shell, ['list']);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout).toBe(
        'Loaded patch modules:\n' +
          '  lp_a  enabled=1 transition=0 objects=ext4,vmlinux\n' +
          '  lp_b  enabled=0 transition=1 objects=vmlinux\n' +
          '  lp_old  enabled=0 (module loaded, patch not applied)\n' +
          `Installed patch modules (${RUNNING_RELEASE}):\n` +
          `  lp_good  ${path.join(sys.state, RUNNING_RELEASE, 'lp_good.ko')}\n`,
      );
    });

    it('says when nothing is loaded or installed', () => {
      const r = sys.run(shell, ['list']);
      expect(r.status).toBe(0);
      expect(r.stdout).toBe(`Loaded patch modules:\n  (none)\nInstalled patch modules (${RUNNING_RELEASE}):\n  (none)\n`);
    });
  });

  describe('disable and unload', () => {
    /** What the kernel does when a disable completes: the patch directory goes away. */
    function finishDisableAfter(name: string, seconds: number): void {
      const dir = path.join(sys.lp, name);
      fs.writeFileSync(path.join(dir, 'transition'), '1\n');
      spawnSync('sh', ['-c', `( sleep ${seconds}; rm -rf '${dir}' ) </dev/null >/dev/null 2>&1 &`]);
    }

    it('disable writes 0 to enabled, waits for the patch to go, and keeps the module', () => {
      sys.addPatch('lp_good');
      finishDisableAfter('lp_good', 1);
      const r = sys.run(shell, ['disable', 'lp_good']);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.ms).toBeGreaterThanOrEqual(900);
      expect(r.stdout).toBe('kelpctl: lp_good: disabled, transition complete\n');
      expect(sys.exists('sys/kernel/livepatch/lp_good')).toBe(false);
      expect(sys.exists('sys/module/lp_good')).toBe(true);
      expect(sys.calls()).toEqual([]);
    });

    it('disable writes 0 to enabled', () => {
      sys.addPatch('lp_good');
      const r = sys.run(shell, ['disable', 'lp-good']);
      expect(r.status).toBe(0);
      expect(sys.read('sys/kernel/livepatch/lp_good/enabled')).toBe('0\n');
    });

    it('disable times out with the tasks still on the patched code', () => {
      sys.addPatch('lp_good', { transition: 1 });
      sys.addTask(200, 'holder', 1, '[<0>] pipe_read+0x1/0x2\n');
      const r = sys.run(shell, ['disable', 'lp_good', '--timeout', '1']);
      expect(r.status).toBe(EX.timeout);
      expect(r.stderr).toContain('  task 200 (holder): patch_state 1, target 0\n      [<0>] pipe_read+0x1/0x2\n');
    });

    it('refuses to disable while another patch is in transition', () => {
      sys.addPatch('lp_good');
      sys.addPatch('lp_busy', { transition: 1 });
      for (const cmd of ['disable', 'unload']) {
        const r = sys.run(shell, [cmd, 'lp_good']);
        expect(r.status).toBe(EX.busy);
        expect(r.stderr).toBe('kelpctl: lp_good: cannot disable while patch lp_busy is in transition\n');
        expect(sys.read('sys/kernel/livepatch/lp_good/enabled')).toBe('1\n');
      }
      expect(sys.calls()).toEqual([]);
    });

    it('reports a name that is not loaded', () => {
      let r = sys.run(shell, ['disable', 'lp_nope']);
      expect(r.status).toBe(EX.notLoaded);
      expect(r.stderr).toBe('kelpctl: lp_nope: no such patch is applied\n');
      r = sys.run(shell, ['unload', 'lp_nope']);
      expect(r.status).toBe(EX.notLoaded);
      expect(r.stderr).toBe('kelpctl: lp_nope: no such patch or module is loaded\n');
      expect(sys.calls()).toEqual([]);
    });

    it('unload by file name disables, waits, and removes the module', () => {
      const load = sys.run(shell, ['load', good], { FAKE_FLIP_AFTER: '0' });
      expect(load.status).toBe(0);
      finishDisableAfter('lp_good', 1);
      const r = sys.run(shell, ['unload', good]);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout).toBe('kelpctl: lp_good: unloaded\n');
      expect(sys.exists('sys/kernel/livepatch/lp_good')).toBe(false);
      expect(sys.exists('sys/module/lp_good')).toBe(false);
      expect(sys.calls()).toEqual([`insmod ${good}`, 'rmmod lp_good']);
    });

    it('unload of an already disabled (or replaced) patch only removes the module', () => {
      sys.addModule('lp_old', 'OEK');
      const r = sys.run(shell, ['unload', 'lp_old']);
      expect(r.status).toBe(0);
      expect(sys.calls()).toEqual(['rmmod lp_old']);
      expect(sys.exists('sys/module/lp_old')).toBe(false);
    });
  });

  describe('install and uninstall', () => {
    it('keeps the module under the release directory and installs the boot files', () => {
      const r = sys.run(shell, ['install', good]);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const ko = path.join(sys.state, RUNNING_RELEASE, 'lp_good.ko');
      expect(r.stdout).toBe(`kelpctl: lp_good: installed as ${ko}\n`);
      expect(fs.readFileSync(ko).equals(fs.readFileSync(good))).toBe(true);
      const self = path.join(sys.state, 'kelpctl');
      expect(fs.readFileSync(self, 'utf8')).toBe(fs.readFileSync(KELPCTL, 'utf8'));
      expect(fs.statSync(self).mode & 0o111).toBe(0o111);
      const unit = fs.readFileSync(path.join(sys.etc, 'systemd/system/kelpctl.service'), 'utf8');
      expect(unit).toContain(`ExecStart="${self}" load-installed\n`);
      expect(unit).toContain('Type=oneshot\n');
      expect(unit).toContain('WantedBy=multi-user.target\n');
      // systemd's own checker: syntax, and that ExecStart names an executable.
      ensureCommands({ 'systemd-analyze': 'systemd' });
      const verify = spawnSync('systemd-analyze', ['verify', path.join(sys.etc, 'systemd/system/kelpctl.service')], { encoding: 'utf8' });
      expect(verify.stderr).toBe('');
      expect(verify.status).toBe(0);
      const init = path.join(sys.etc, 'init.d/kelpctl');
      expect(fs.statSync(init).mode & 0o111).toBe(0o111);
      expect(fs.readFileSync(init, 'utf8')).toContain(`start) exec "${self}" load-installed ;;`);
      expect(spawnSync('sh', ['-n', init]).status).toBe(0);
      expect(sys.calls()).toEqual([]);

      const list = sys.run(shell, ['list']);
      expect(list.stdout).toContain(`Installed patch modules (${RUNNING_RELEASE}):\n  lp_good  ${ko}\n`);

      const un = sys.run(shell, ['uninstall', 'lp_good']);
      expect(un.status).toBe(0);
      expect(fs.existsSync(ko)).toBe(false);
      expect(fs.existsSync(path.join(sys.state, RUNNING_RELEASE))).toBe(false);
      const again = sys.run(shell, ['uninstall', 'lp_good']);
      expect(again.status).toBe(EX.notLoaded);
      expect(again.stderr).toBe(`kelpctl: lp_good: not installed for ${RUNNING_RELEASE} (${ko} missing)\n`);
    });

    it('installs a module for another release under that release', () => {
      const r = sys.run(shell, ['install', other]);
      expect(r.status).toBe(0);
      expect(r.stdout).toContain('built for 9.9.9-other-amd64, so it loads when that kernel boots, not now');
      expect(fs.existsSync(path.join(sys.state, '9.9.9-other-amd64', 'lp_other.ko'))).toBe(true);
      expect(sys.run(shell, ['list']).stdout).not.toContain('lp_other');
      const un = sys.run(shell, ['uninstall', 'lp_other', '--release', '9.9.9-other-amd64']);
      expect(un.status).toBe(0);
      expect(fs.existsSync(path.join(sys.state, '9.9.9-other-amd64'))).toBe(false);
    });

    it('refuses to install a module without livepatch=Y', () => {
      const r = sys.run(shell, ['install', plain]);
      expect(r.status).toBe(EX.notLivepatch);
      expect(fs.existsSync(sys.state)).toBe(false);
    });

    it('the init script loads the installed modules for the running release only', () => {
      expect(sys.run(shell, ['install', good]).status).toBe(0);
      expect(sys.run(shell, ['install', good2]).status).toBe(0);
      // A module for another kernel misplaced into this release's directory is refused.
      fs.copyFileSync(other, path.join(sys.state, RUNNING_RELEASE, 'lp_other.ko'));
      const init = path.join(sys.etc, 'init.d/kelpctl');
      const r = spawnSync('sh', [init, 'start'], { env: sys.env({ FAKE_FLIP_AFTER: '0' }), encoding: 'utf8' });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('built for kernel 9.9.9-other-amd64');
      expect(sys.calls().sort()).toEqual([
        `insmod ${path.join(sys.state, RUNNING_RELEASE, 'lp_good.ko')}`,
        `insmod ${path.join(sys.state, RUNNING_RELEASE, 'lp_second.ko')}`,
      ]);
      expect(sys.read('sys/kernel/livepatch/lp_good/transition')).toBe('0\n');
      expect(sys.read('sys/kernel/livepatch/lp_second/transition')).toBe('0\n');
      // Starting again leaves the loaded ones alone.
      fs.rmSync(path.join(sys.state, RUNNING_RELEASE, 'lp_other.ko'));
      const again = spawnSync('sh', [init, 'start'], { env: sys.env(), encoding: 'utf8' });
      expect(again.status).toBe(0);
      expect(again.stdout).toContain('kelpctl: lp_good: already loaded');
      expect(sys.calls()).toHaveLength(2);
    });
  });
});
