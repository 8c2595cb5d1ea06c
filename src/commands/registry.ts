import type { Command } from 'commander';

/** One kelp subcommand: registers itself on the root program. */
export interface Subcommand {
  readonly name: string;
  register(program: Command): void;
}
