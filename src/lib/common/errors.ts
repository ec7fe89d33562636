// Typed errors: library code throws these; only the base command turns them into output.

/**
 * Every error class a user can meet. docs/troubleshooting.md lists each one with what
 * to do; a test keeps the two in step.
 */
export const errorCodes = {
  USAGE: 'a flag or argument is missing or malformed',
  CONFIG_NOT_FOUND: 'the configuration file does not exist',
  CONFIG_UNREADABLE: 'the configuration file exists but cannot be read as a YAML file',
  CONFIG_INVALID: 'the configuration file has one or more problems',
  NODE_UNKNOWN: 'a node name that is not in the configuration',
  NODE_UNRESOLVED: 'skypg could not tell which configured node this machine is',
  PG_REFUSED: 'PostgreSQL refused the connection (not running, or not listening there)',
  PG_TIMEOUT: 'PostgreSQL did not answer within the timeout',
  PG_AUTH: 'PostgreSQL rejected the credentials',
  PG_NOT_FOUND: 'the database or role does not exist',
  PG_STARTING: 'PostgreSQL is starting up, shutting down or in crash recovery',
  PG_IN_RECOVERY: 'the server is a standby where a primary was needed',
  PG_QUERY: 'PostgreSQL reported an error for a query',
  PG_AUTH_METHOD:
    'the server asked for a password method skypg refuses (cleartext, MD5, none over TCP) or did not prove it knows the password; nothing secret was sent',
  PG_TLS: 'TLS to the server failed or could not be verified as postgres.sslmode requires',
  PG_NOT_PEER:
    "the server that answered is not this pair's peer (another database system identifier)",
  PG_BINARIES_NOT_FOUND: 'the PostgreSQL server programs were not found',
  COMMAND_FAILED: 'an external program skypg ran exited with an error',
  FENCE_FAILED: 'no fence level of a node could do the action (for off: verify it OFF)',
  REFUSED: 'a safety precondition of the operation does not hold, so nothing was changed',
  PARTIAL: 'the operation failed midway; the message says exactly what state it left',
  LAB_EXISTS: 'a lab is already running in that directory',
  LAB_NOT_FOUND: 'there is no lab in that directory',
  LAB_FAILED: 'building the lab failed; it was torn down again',
  INTERNAL: 'a bug in skypg',
} as const;

export type ErrorCode = keyof typeof errorCodes;

export interface SkypgErrorOptions {
  /** What the user can do about it, as one short sentence. */
  hint?: string;
  /** Extra lines printed before the message (e.g. every problem in a config file). */
  details?: string[];
  /** Overrides the command's default exit code for errors. */
  exitCode?: number;
  cause?: unknown;
}

export class SkypgError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly details: string[];
  readonly exitCode: number | undefined;

  constructor(code: ErrorCode, message: string, options: SkypgErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SkypgError';
    this.code = code;
    this.hint = options.hint;
    this.details = options.details ?? [];
    this.exitCode = options.exitCode;
  }

  /** The stable JSON shape of an error (docs/cli.md). */
  toJSON(): { code: ErrorCode; message: string; hint?: string; details?: string[] } {
    return {
      code: this.code,
      message: this.message,
      ...(this.hint === undefined ? {} : { hint: this.hint }),
      ...(this.details.length === 0 ? {} : { details: this.details }),
    };
  }
}

export function isSkypgError(value: unknown): value is SkypgError {
  return value instanceof SkypgError;
}

/** The message of any thrown value, for wrapping foreign errors. */
export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
