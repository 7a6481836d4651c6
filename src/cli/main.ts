import { Command, CommanderError } from 'commander';
import { VERSION } from '../version.js';
import { registerAuditCommands } from './commands/audit.js';
import { registerDlpCommands } from './commands/dlp.js';
import { registerKeysCommands } from './commands/keys.js';
import { registerPolicyCommands } from './commands/policy.js';
import { registerRequestCommands } from './commands/requests.js';
import { registerServeCommand } from './commands/serve.js';
import { registerUsageCommand } from './commands/usage.js';
import { EXIT, UsageError } from './exit-codes.js';
import { processIo, reportError } from './output.js';

export function buildProgram(): Command {
  const program = new Command('countersign')
    .description('Human approval in front of privileged actions by AI agents and pipelines.')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerServeCommand(program);
  registerKeysCommands(program);
  registerRequestCommands(program);
  registerPolicyCommands(program);
  registerAuditCommands(program);
  registerDlpCommands(program);
  registerUsageCommand(program);
  // Subcommands inherit exitOverride so that bad usage exits 2 (DESIGN.md) rather than commander's 1.
  for (const c of program.commands) {
    c.exitOverride();
    for (const sub of c.commands) sub.exitOverride();
  }
  return program;
}

/** Every command under `command`, itself included. */
function allCommands(command: Command): Command[] {
  return [command, ...command.commands.flatMap(allCommands)];
}

/** Runs the CLI and returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  // With --json, bad usage is reported like every other error: one JSON object on stdout.
  const json = argv.includes('--json');
  if (json)
    for (const c of allCommands(program))
      c.configureOutput({ outputError: () => {} }).showHelpAfterError(false);
  process.exitCode = 0;
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version are not errors
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0)
        return 0;
      if (json) reportError(processIo, new UsageError(err.message.replace(/^error: /, '')), true);
      return EXIT.USAGE;
    }
    return reportError(processIo, err, json);
  }
  return typeof process.exitCode === 'number' ? process.exitCode : 0;
}
