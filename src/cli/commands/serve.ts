import { join } from 'node:path';
import type { Command } from 'commander';
import { systemClock } from '../../core/clock.js';
import { loadConfig, redactUrl } from '../../config/config.js';
import { ensureDemoKeys, type DemoKey } from '../../identity/demo-keys.js';
import { createLogger } from '../../logger.js';
import { PolicyError } from '../../policy/policy-error.js';
import { startGateway } from '../../server/serve.js';
import { EXIT } from '../exit-codes.js';
import { processIo, reportError, type Io } from '../output.js';

export async function serveCommand(
  opts: { config?: string; json?: boolean },
  io: Io = processIo,
): Promise<number> {
  const json = Boolean(opts.json);
  let config;
  try {
    config = await loadConfig(opts.config ?? null);
  } catch (err) {
    return reportError(io, err, json);
  }
  const logger = createLogger(config.logLevel);
  let running;
  try {
    running = await startGateway(config, logger);
  } catch (err) {
    if (err instanceof PolicyError) {
      return reportError(
        io,
        new Error(`the policy ${config.policy} is invalid; the gateway did not start:\n${err.message}`),
        json,
      );
    }
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE') {
      return reportError(
        io,
        new Error(
          `${config.listen.host}:${config.listen.port} is already in use; set listen in the config or COUNTERSIGN_LISTEN`,
        ),
        json,
      );
    }
    return reportError(io, err, json);
  }
  let demoFile: string | null = null;
  let demo: Record<string, DemoKey> | null = null;
  if (config.file === null) {
    demoFile = join(config.dataDir, 'demo-keys.json');
    demo = await ensureDemoKeys(running.store, systemClock, demoFile);
  }
  if (json) {
    // One JSON line beside the JSON log lines: where it listens, and the demo keys' file (never a token).
    io.out(
      JSON.stringify({
        listening: running.url,
        storage: redactUrl(config.storage),
        policy: config.policy,
        policyIsExample: config.policyIsExample,
        demoKeys: demo && demoFile ? demoFile : null,
      }),
    );
  } else {
    io.err(`Countersign listening on ${running.url}`);
    io.err(`  store:  ${redactUrl(config.storage)}`);
    io.err(`  policy: ${config.policy}${config.policyIsExample ? ' (bundled example)' : ''}`);
    if (demo && demoFile) printDemoHelp(io, running.url, demoFile, demo);
  }

  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      logger.info({ signal }, 'shutting down');
      resolve();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  await running.close();
  logger.info('stopped');
  return EXIT.APPROVED;
}

function printDemoHelp(io: Io, url: string, file: string, demo: Record<string, DemoKey>): void {
  const line = (role: string) => {
    const k = demo[role];
    return k ? `${k.name} (${k.kind}${k.email ? `, ${k.email}` : ''})` : role;
  };
  io.err(`
First start: created demo keys in ${file} (mode 0600):
  agent:     ${line('agent')}
  reviewers: ${line('reviewer1')}, ${line('reviewer2')}
  admin:     ${line('admin')}
Try it:
  export COUNTERSIGN_URL=${url}
  AGENT=$(node -p "require('${file}').agent.token")
  curl -s -X POST $COUNTERSIGN_URL/v1/actions -H "Authorization: Bearer $AGENT" \\
    -H 'content-type: application/json' \\
    -d '{"action":"service.restart","resource":"k8s://prod/deploy/api","environment":"production","reason":"roll out fix"}'
See README.md for the whole walkthrough.
`);
}

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('Run the gateway (embedded SQLite by default)')
    .option('--config <file>', 'YAML config: listen, storage, policy, data_dir, limits')
    .option('--json', 'print the start-up summary as one JSON line (the log lines are JSON already)')
    .action(async (opts: { config?: string; json?: boolean }) => {
      process.exitCode = await serveCommand(opts);
    });
}
