// The command reference (docs/commands.md), rendered from the command classes themselves.
//
// Why from the classes and not from oclif.manifest.json or `--help`: the classes are what
// `--help` and the manifest are made of (summary, description, args, flags, examples), and
// importing them through tsx needs no build, so `npm run docs:commands` and the unit test
// that checks docs/commands.md work on a fresh clone before `npm run build`. The output
// depends only on the source: commands sorted by id, flags by name, no dates, no terminal
// width; the same source always gives the same file.
import { readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';

export const commandsDir = join(import.meta.dirname, '..', 'src', 'commands');
export const referenceFile = join(import.meta.dirname, '..', 'docs', 'commands.md');

/** The static parts of an oclif flag that help shows. */
interface FlagInfo {
  type: 'boolean' | 'option';
  char?: string;
  summary?: string;
  description?: string;
  helpValue?: string | string[];
  options?: readonly string[];
  default?: unknown;
  /** What help shows in place of the default (skypg's DURATION/SIZE flags: "2s", not 2000). */
  defaultHelp?: unknown;
  required?: boolean;
  multiple?: boolean;
  allowNo?: boolean;
  hidden?: boolean;
}

interface ArgInfo {
  description?: string;
  required?: boolean;
  options?: readonly string[];
  default?: unknown;
  hidden?: boolean;
}

type Example = string | { command: string; description: string };

/** The static parts of an oclif command class that help shows. */
interface CommandInfo {
  summary?: string;
  description?: string;
  examples?: readonly Example[];
  flags?: Record<string, FlagInfo>;
  args?: Record<string, ArgInfo>;
  enableJsonFlag?: boolean;
  hidden?: boolean;
}

export interface CommandEntry {
  /** Space-separated, as typed: "vip up". */
  id: string;
  command: CommandInfo;
}

/** Ids of every command file under src/commands ("config check", "fence", ...). */
export async function commandIds(): Promise<string[]> {
  const entries = await readdir(commandsDir, { recursive: true });
  return entries
    .filter((entry) => entry.endsWith('.ts'))
    .map((entry) => relative(commandsDir, join(commandsDir, entry)).replace(/\.ts$/, ''))
    .map((path) => path.split('/').join(' '))
    .sort();
}

/** Imports each command class (tsx compiles it on the fly). */
export async function loadCommands(): Promise<CommandEntry[]> {
  const entries: CommandEntry[] = [];
  for (const id of await commandIds()) {
    const file = join(commandsDir, `${id.split(' ').join('/')}.ts`);
    const module = (await import(pathToFileURL(file).href)) as { default?: unknown };
    if (typeof module.default !== 'function') {
      throw new Error(`${file} has no default export of a command class`);
    }
    // The class's statics are oclif's documented help inputs; only those fields are read.
    const command = module.default as unknown as CommandInfo;
    if (command.hidden !== true) entries.push({ id, command: await withDefaultHelp(command) });
  }
  return entries;
}

/** As oclif's help and manifest do: a defaultHelp function's text replaces the default. */
async function withDefaultHelp(command: CommandInfo): Promise<CommandInfo> {
  if (command.flags === undefined) return command;
  const flags: Record<string, FlagInfo> = {};
  for (const [name, flag] of Object.entries(command.flags)) {
    const help = flag.defaultHelp;
    flags[name] =
      typeof help === 'function'
        ? { ...flag, default: (await (help as () => Promise<unknown>)()) ?? flag.default }
        : flag;
  }
  // Field by field: a spread would drop the statics the class inherits (enableJsonFlag).
  const { summary, description, examples, args, enableJsonFlag, hidden } = command;
  return { summary, description, examples, flags, args, enableJsonFlag, hidden };
}

const bin = 'skypg';

/** oclif's own --json flag, added to every command with enableJsonFlag. */
const jsonFlag: FlagInfo = {
  type: 'boolean',
  summary: 'Format output as json.',
};

function flagsOf(command: CommandInfo): [string, FlagInfo][] {
  const flags = Object.entries(command.flags ?? {}).filter(([, flag]) => flag.hidden !== true);
  flags.sort(([a], [b]) => a.localeCompare(b));
  if (command.enableJsonFlag === true && !flags.some(([name]) => name === 'json')) {
    flags.push(['json', jsonFlag]);
  }
  return flags;
}

function argsOf(command: CommandInfo): [string, ArgInfo][] {
  return Object.entries(command.args ?? {}).filter(([, arg]) => arg.hidden !== true);
}

function valueName(name: string, flag: FlagInfo): string {
  if (flag.options !== undefined && flag.options.length > 0) return flag.options.join('|');
  if (typeof flag.helpValue === 'string') return flag.helpValue;
  return name.toUpperCase();
}

function flagSyntax(name: string, flag: FlagInfo): string {
  const names = `${flag.char === undefined ? '' : `-${flag.char}, `}--${flag.allowNo === true ? `[no-]${name}` : name}`;
  return flag.type === 'boolean' ? names : `${names} ${valueName(name, flag)}`;
}

function usage(entry: CommandEntry): string {
  const words = [bin, entry.id];
  for (const [name, arg] of argsOf(entry.command)) {
    const argName = name.toUpperCase();
    words.push(arg.required === true ? argName : `[${argName}]`);
  }
  for (const [name, flag] of flagsOf(entry.command)) {
    const short = flag.type === 'boolean' ? `--${name}` : `--${name} ${valueName(name, flag)}`;
    words.push(flag.required === true ? short : `[${short}]`);
  }
  return words.join(' ');
}

/** Prose from the source, safe to put in Markdown (no accidental HTML). */
function prose(text: string): string {
  return text.replaceAll('<', '&lt;').replaceAll('>', '&gt;').trim();
}

function sentence(text: string): string {
  const trimmed = prose(text);
  return /[.!?)]$/.test(trimmed) ? trimmed : `${trimmed}.`;
}

function defaultText(value: unknown): string | undefined {
  if (value === undefined || value === false) return undefined;
  if (typeof value === 'function') return 'computed when the command runs';
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
    return `\`${String(value)}\``;
  }
  return `\`${JSON.stringify(value)}\``;
}

function flagLine(name: string, flag: FlagInfo): string {
  const parts = [flag.summary, flag.description]
    .filter((text): text is string => text !== undefined && text.trim() !== '')
    .map(sentence);
  const facts: string[] = [];
  if (flag.required === true) facts.push('required');
  const fallback = defaultText(flag.default);
  if (fallback !== undefined) facts.push(`default ${fallback}`);
  if (flag.multiple === true) facts.push('may be repeated');
  const tail = facts.length === 0 ? '' : ` (${facts.join('; ')})`;
  return `- \`${flagSyntax(name, flag)}\`: ${parts.join(' ')}${tail}`;
}

function argLine(name: string, arg: ArgInfo): string {
  const facts = [arg.required === true ? 'required' : 'optional'];
  if (arg.options !== undefined && arg.options.length > 0) {
    facts.push(`one of ${arg.options.map((option) => `\`${option}\``).join(', ')}`);
  }
  const fallback = defaultText(arg.default);
  if (fallback !== undefined) facts.push(`default ${fallback}`);
  const description = arg.description === undefined ? '' : ` ${sentence(arg.description)}`;
  return `- \`${name.toUpperCase()}\` (${facts.join('; ')}):${description}`;
}

function exampleLines(command: CommandInfo): string[] {
  const lines: string[] = [];
  for (const example of command.examples ?? []) {
    if (typeof example === 'string') {
      lines.push(example.replaceAll('<%= config.bin %>', bin));
    } else {
      lines.push(`# ${example.description}`, example.command.replaceAll('<%= config.bin %>', bin));
    }
  }
  return lines;
}

/** GitHub's heading anchor for "`skypg vip up`". */
export function anchorOf(id: string): string {
  return `${bin} ${id}`.replaceAll(' ', '-');
}

function renderCommand(entry: CommandEntry): string[] {
  const { command } = entry;
  const lines = [`## \`${bin} ${entry.id}\``, ''];
  if (command.summary !== undefined) lines.push(sentence(command.summary), '');
  if (command.description !== undefined && command.description.trim() !== '') {
    lines.push(sentence(command.description), '');
  }
  lines.push('```', usage(entry), '```', '');
  const args = argsOf(command);
  if (args.length > 0) {
    lines.push('Arguments:', '', ...args.map(([name, arg]) => argLine(name, arg)), '');
  }
  const flags = flagsOf(command);
  if (flags.length > 0) {
    lines.push('Flags:', '', ...flags.map(([name, flag]) => flagLine(name, flag)), '');
  }
  const examples = exampleLines(command);
  if (examples.length > 0) lines.push('Examples:', '', '```sh', ...examples, '```', '');
  return lines;
}

/** The whole of docs/commands.md. */
export function renderCommandReference(entries: readonly CommandEntry[]): string {
  const lines = [
    '# Command reference',
    '',
    '<!-- Generated by `npm run docs:commands` from the command classes in src/commands; do not',
    'edit by hand. A unit test fails when this file is not current. -->',
    '',
    `Every command below, as \`${bin} COMMAND --help\` describes it. Exit codes, error codes and`,
    'the JSON shapes of `--json` are in [cli.md](cli.md); the configuration keys the commands read',
    'are in [configuration.md](configuration.md).',
    '',
    ...entries.map(
      (entry) =>
        `- [\`${bin} ${entry.id}\`](#${anchorOf(entry.id)}): ${sentence(entry.command.summary ?? '')}`,
    ),
    '',
    ...entries.flatMap(renderCommand),
  ];
  return `${lines.join('\n').replace(/\n+$/, '')}\n`;
}
