/**
 * The engine's command line: `npx tsx services/engine/cli.ts <command> …`.
 *
 * One module per subcommand, each exporting `(argv) => Promise<exit status>`
 * and loaded only when named, so `generate` never loads the golden runner
 * and `verify-golden` never loads the image encoders. Adding a command is
 * one entry below.
 */
import { pathToFileURL } from 'node:url';

interface Command {
  summary: string;
  run(argv: string[]): Promise<number>;
}

const COMMANDS: Record<string, Command> = {
  'verify-golden': {
    summary: 'run every case of a golden directory through the engine and compare',
    run: async (argv) => (await import('./golden/verifyGoldenCommand.ts')).runVerifyGolden(argv),
  },
  // ---- generate: text-to-image through the Engine (cliGenerate.ts) ----
  generate: {
    summary: 'text-to-image from a checkpoint and a prompt',
    run: async (argv) => (await import('./cliGenerate.ts')).runGenerate(argv),
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `usage: cli.ts <command> [options]\n\ncommands:\n${lines.join('\n')}\n\n<command> --help shows its options.`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stderr.write(`${usage()}\n`);
    return name === undefined ? 2 : 0;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) {
    process.stderr.write(`unknown command "${name}"\n${usage()}\n`);
    return 2;
  }
  return command.run(rest);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).then(
    (status) => {
      process.exitCode = status;
    },
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = 2;
    },
  );
}
