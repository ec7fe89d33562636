// The one base class of every skypg command: --json, the result envelope, and the single
// place where errors become a message and an exit code.
import { Command, Errors, Flags } from '@oclif/core';
import { SkypgError, isSkypgError, messageOf, type ErrorCode } from '../common/errors.js';
import { ExitCode } from '../common/exit-codes.js';
import type { ClusterConfig, NodeConfig } from '../config/types.js';
import { nonEmpty } from '../common/env.js';

/** What a command's execute() hands back: data for --json, text for a person, an exit code. */
export interface CommandResult<T> {
  data: T;
  /** Lines for a human reader (stdout); not printed with --json. */
  text?: string[];
  /** Lines printed to stderr in both modes (they never pollute JSON on stdout). */
  warnings?: string[];
  exitCode?: number;
}

/** Flags of every command that reads the cluster configuration. */
export const clusterFlags = {
  config: Flags.string({
    char: 'c',
    summary: 'Configuration file.',
    description:
      'Defaults to $SKYPG_CONFIG, else /etc/skypg/skypg.yaml. See docs/configuration.md.',
    helpValue: 'FILE',
  }),
  node: Flags.string({
    summary: 'Which configured node this machine is.',
    description:
      "Defaults to $SKYPG_NODE, else the node whose address is one of this host's addresses.",
    helpValue: 'NAME',
  }),
};

export interface ClusterContext {
  config: ClusterConfig;
  configPath: string;
  /** Resolves lazily: only commands that act "here" need to know which node "here" is. */
  localNode(): NodeConfig;
  /** Configuration warnings (safety given up); commands may show them. */
  warnings: string[];
}

export abstract class SkypgCommand<T extends object> extends Command {
  static override enableJsonFlag = true;

  /** Exit code for usage and configuration errors; Nagios checks override it with 3. */
  protected usageExitCode: number = ExitCode.error;
  /** Exit code for any other failure. */
  protected failureExitCode: number = ExitCode.error;

  protected abstract execute(): Promise<CommandResult<T>>;

  async run(): Promise<T> {
    const result = await this.execute();
    for (const line of result.warnings ?? []) process.stderr.write(`${line}\n`);
    if (!this.jsonEnabled()) for (const line of result.text ?? []) this.log(line);
    process.exitCode = result.exitCode ?? ExitCode.ok;
    return result.data;
  }

  /** Loads and validates the configuration named by --config, $SKYPG_CONFIG or the default. */
  protected async loadCluster(flags: { config?: string; node?: string }): Promise<ClusterContext> {
    const { loadConfigFile, resolveConfigPath } = await import('../config/load.js');
    const { findNode, resolveLocalNode } = await import('../config/local-node.js');
    const configPath = resolveConfigPath(flags.config);
    const { config, warnings } = await loadConfigFile(configPath);
    let node: NodeConfig | undefined;
    return {
      config,
      configPath,
      warnings,
      localNode: () => (node ??= findNode(config, resolveLocalNode(config, flags.node))),
    };
  }

  // Not async: it always ends by throwing oclif's ExitError (or rethrowing oclif's own exit).
  /** How an error reaches a person: details, then one line, on stderr. Checks override it. */
  protected reportError(error: SkypgError): void {
    for (const line of error.details) process.stderr.write(`${line}\n`);
    process.stderr.write(`${formatErrorLine(error)}\n`);
  }

  /**
   * The configuration when it is needed, or when one is named or present at the default path;
   * otherwise undefined (e.g. `probe HOST:PORT` works on a host without skypg configured).
   */
  protected async loadOptionalCluster(
    flags: { config?: string; node?: string },
    required: boolean,
  ): Promise<ClusterConfig | undefined> {
    try {
      return (await this.loadCluster(flags)).config;
    } catch (error) {
      const named =
        flags.config !== undefined || nonEmpty(process.env['SKYPG_CONFIG']) !== undefined;
      if (!required && !named && error instanceof SkypgError && error.code === 'CONFIG_NOT_FOUND') {
        return undefined;
      }
      throw error;
    }
  }

  override catch(error: Error & { oclif?: { exit?: number }; code?: unknown }): Promise<never> {
    // oclif's own exit (this.exit, --help, --version) is not an error.
    if (error instanceof Errors.ExitError) throw error;
    const skypgError = toSkypgError(error);
    const exitCode =
      skypgError.exitCode ??
      (isUsageCode(skypgError.code) ? this.usageExitCode : this.failureExitCode);
    if (this.jsonEnabled()) {
      // The exit code in the envelope too: a caller reading stdout need not keep $? beside it.
      this.logJson({ error: { ...skypgError.toJSON(), exitCode } });
    } else {
      this.reportError(skypgError);
      if (skypgError.code === 'INTERNAL' && process.env['SKYPG_DEBUG'] && error.stack) {
        process.stderr.write(`${error.stack}\n`);
      }
    }
    this.exit(exitCode);
  }
}

function isUsageCode(code: ErrorCode): boolean {
  return (
    code === 'USAGE' ||
    code.startsWith('CONFIG_') ||
    code === 'NODE_UNKNOWN' ||
    code === 'NODE_UNRESOLVED'
  );
}

/** One line: what is wrong, then what to do about it. */
export function formatErrorLine(error: SkypgError): string {
  const hint = error.hint === undefined ? '' : ` (hint: ${error.hint})`;
  return `skypg: ${error.message}${hint}`;
}

/** oclif's missing-argument error lists the arguments on later lines: name them in one. */
function missingArguments(error: Errors.CLIError): string | undefined {
  const args = (error as { args?: unknown }).args;
  if (!Array.isArray(args) || !error.message.startsWith('Missing')) return undefined;
  const named = (args as { name?: string; options?: string[] }[]).filter(
    (arg) => arg.name !== undefined,
  );
  if (named.length === 0) return undefined;
  return named
    .map((arg) =>
      arg.options === undefined
        ? (arg.name ?? '').toUpperCase()
        : `${(arg.name ?? '').toUpperCase()} (one of ${arg.options.join(', ')})`,
    )
    .join(', ');
}

/**
 * oclif rewrites the message of an error thrown by a flag's parse (our durationFlag, its own
 * Flags.integer) to "Parsing --timeout \n\t<message>\nSee more help with --help"; take the
 * message back out so it stays one line.
 */
function withoutFlagParseWrapping(message: string): string {
  const wrapped = /^Parsing --\S+ \n\t([^\n]*)\nSee more help with --help$/.exec(message);
  return wrapped?.[1] ?? message;
}

/** Any error thrown while a command runs (ours, oclif's parser's, a bug) as a SkypgError. */
export function toSkypgError(error: Error): SkypgError {
  if (isSkypgError(error)) {
    const message = withoutFlagParseWrapping(error.message);
    if (message === error.message) return error;
    return new SkypgError(error.code, message, {
      hint: error.hint,
      details: error.details,
      exitCode: error.exitCode,
      cause: error.cause,
    });
  }
  // oclif's parser errors (unknown flag, missing argument, bad option value) carry `parse`.
  if (error instanceof Errors.CLIError && 'parse' in error) {
    const missing = missingArguments(error);
    if (missing !== undefined) {
      return new SkypgError('USAGE', `missing argument ${missing}`, {
        hint: 'see --help for the arguments this command takes',
      });
    }
    const firstLine = error.message.split('\n')[0] ?? error.message;
    return new SkypgError('USAGE', firstLine.replace(/\.$/, ''), {
      hint: 'see --help for the flags and arguments this command takes',
    });
  }
  if (error instanceof Errors.CLIError) {
    const message = withoutFlagParseWrapping(messageOf(error));
    return new SkypgError('USAGE', message.split('\n')[0] ?? message, { hint: 'see --help' });
  }
  return new SkypgError('INTERNAL', `internal error: ${messageOf(error)}`, {
    hint: 'this is a bug in skypg; rerun with SKYPG_DEBUG=1 to print the stack trace and report it',
  });
}
