/**
 * Errors of the emulated target. They print as one line, `kelp: <what>: <problem>`,
 * through the CLI's KelpError handling.
 */
import { KelpError } from '../errors.js';

/** Something the target needs (a tool, a package, a file) is missing or unusable. */
export class TargetError extends KelpError {}

/** A host tool is not installed; names the Debian package that provides it. */
export class MissingToolError extends TargetError {
  readonly tool: string;
  readonly debianPackage: string;

  constructor(tool: string, debianPackage: string) {
    super(`not found; install the Debian package ${debianPackage} (apt-get install ${debianPackage})`, tool);
    this.tool = tool;
    this.debianPackage = debianPackage;
  }
}
