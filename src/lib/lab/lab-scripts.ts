// The lab's shell scripts are real files in ./sh (copied beside the compiled module by the
// build), so they can be read, linted and run by hand. What a lab writes into its own directory
// is only a launcher that passes one lab's values to one of them.
import { fileURLToPath } from 'node:url';

export type LabScriptName = 'chassis-control.sh' | 'postgres-boot.sh' | 'pdu-fence.sh';

/** Where a lab script is: beside this module in src/lib/lab (tsx) and in dist/lib/lab. */
export function labScriptPath(name: LabScriptName): string {
  return fileURLToPath(new URL(`./sh/${name}`, import.meta.url));
}

/** One word for bash, whatever it holds (single quotes, each ' written as '\''). */
export function shellWord(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/**
 * A launcher: a bash script that runs `name` with the given arguments (then its own, if
 * `passArguments`) and with `env` exported; stdin, stdout and the exit status are the script's.
 */
export function labScriptLauncher(
  comment: string,
  name: LabScriptName,
  options: { args?: string[]; env?: Record<string, string>; passArguments?: boolean },
): string {
  const env = Object.entries(options.env ?? {}).map(([key, value]) => `${key}=${shellWord(value)}`);
  const words = ['/bin/bash', labScriptPath(name), ...(options.args ?? [])].map(shellWord);
  if (options.passArguments === true) words.push('"$@"');
  return [
    '#!/bin/bash',
    `# ${comment}`,
    ...(env.length > 0 ? [`export ${env.join(' ')}`] : []),
    `exec ${words.join(' ')}`,
    '',
  ].join('\n');
}
