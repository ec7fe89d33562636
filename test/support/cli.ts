// Runs the built skypg binary as a user would, capturing output and exit code.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { LabHostName, NetnsLabState } from '../../src/lib/lab/netns-lab.js';

export const skypgBin = fileURLToPath(new URL('../../bin/run.js', import.meta.url));

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export function runSkypg(
  args: string[],
  options: { env?: Record<string, string | undefined>; timeoutMs?: number; netns?: string } = {},
): Promise<CliRun> {
  // In the multi-host lab a command runs "on" a host by running inside its namespace.
  const [file, argv] =
    options.netns === undefined
      ? [process.execPath, [skypgBin, ...args]]
      : ['ip', ['netns', 'exec', options.netns, process.execPath, skypgBin, ...args]];
  return runCapturing(file, argv, options);
}

/** Any program, its output captured as runSkypg captures skypg's (stdin closed). */
export function runCapturing(
  file: string,
  argv: string[],
  options: { env?: Record<string, string | undefined>; timeoutMs?: number } = {},
): Promise<CliRun> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(file, argv, {
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? 60_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      resolve({ code, stdout, stderr, ms: performance.now() - started });
    });
  });
}

/** skypg run "on" a host of the multi-host lab (inside its namespace), with the lab's config. */
export function runSkypgOn(
  state: NetnsLabState,
  host: LabHostName,
  args: string[],
  configPath = state.configPath,
): Promise<CliRun> {
  return runSkypg(args, {
    netns: state.netns[host],
    env: { SKYPG_CONFIG: configPath, PGPASSFILE: state.passfile },
    timeoutMs: 120_000,
  });
}
