/** The kelp command line: the subcommand list and the one-line error form. */
import { KELP_BIN } from './support/paths.js';
import { runStatus } from './support/tools.js';

const SUBCOMMANDS = ['build', 'diff', 'link', 'check', 'bundle', 'target', 'dump'];

test('kelp --help lists every subcommand on one line each', () => {
  const r = runStatus(KELP_BIN, ['--help'], { env: { ...process.env, COLUMNS: '80' } });
  expect(r.status).toBe(0);
  const commands = r.stdout.split('Commands:\n')[1].split('\n').filter((l) => l.trim() !== '');
  // Every line names a command: no description wraps onto a line of its own.
  const names = commands.map((l) => l.trim().split(/\s+/)[0]);
  expect(names).toEqual([...SUBCOMMANDS, 'help']);
  for (const l of commands) expect(l.length).toBeLessThanOrEqual(80);
});

test('each subcommand has its own help', () => {
  for (const c of SUBCOMMANDS) {
    const r = runStatus(KELP_BIN, [c, '--help']);
    expect([c, r.status]).toEqual([c, 0]);
    // kelp dump is a drop-in readelf: its --help is readelf's.
    expect(r.stdout).toMatch(c === 'dump' ? /^Usage: readelf <option\(s\)> elf-file\(s\)\n/ : new RegExp(`^Usage: kelp ${c}`));
  }
});

test('an unknown subcommand or a missing file is one line and a non-zero exit', () => {
  const unknown = runStatus(KELP_BIN, ['frobnicate']);
  expect(unknown.status).not.toBe(0);
  const missing = runStatus(KELP_BIN, ['dump', '-h', '/nonexistent/file.o']);
  expect(missing.status).toBe(1);
  expect(missing.stderr).toBe("kelp: Error: '/nonexistent/file.o': No such file\n");
});
