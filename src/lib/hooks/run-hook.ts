// Runs one hook program through the one program adapter (run-program.ts: its own process group,
// killed at the deadline; capabilities dropped), under `env -i` so that it starts with exactly
// the environment given and nothing inherited. No shell: the command is a path and arguments.
import type { HookCommand } from '../config/types.js';
import { lastLine, runProgram } from '../process/run-program.js';

export interface HookRun {
  /** -1 when it was killed at the deadline or could not be started. */
  exitCode: number;
  timedOut: boolean;
  /** The last line it printed (stderr first), for the log; bounded. */
  said: string | undefined;
}

export type RunHook = (
  command: HookCommand,
  env: Record<string, string>,
  timeoutMs: number,
) => Promise<HookRun>;

/** `env -i NAME=VALUE... PATH ARGS...`: env replaces its own environment by the pairs, then execs. */
export function hookArgv(command: HookCommand, env: Record<string, string>): string[] {
  return [
    '-i',
    ...Object.entries(env).map(([name, value]) => `${name}=${value}`),
    command.path,
    ...command.args,
  ];
}

export const runHook: RunHook = async (command, env, timeoutMs) => {
  const result = await runProgram('env', hookArgv(command, env), {
    timeoutMs,
    allowFailure: true,
  });
  return {
    exitCode: result.exitCode,
    timedOut: result.timedOut,
    said: (lastLine(result.stderr) ?? lastLine(result.stdout))?.slice(0, 300),
  };
};
