// The only list of exit codes skypg uses; docs/cli.md documents the same table.

/** Exit codes of ordinary commands. */
export const ExitCode = {
  /** The command did what was asked, or the answer is "yes". */
  ok: 0,
  /** Usage or configuration error, or the operation failed or was refused. */
  error: 1,
  /** The command ran and the answer is "no" (e.g. `probe`: target not reachable). */
  negative: 2,
} as const;

/** Exit codes of Nagios/NRPE checks (Monitoring Plugins guidelines). */
export const NagiosCode = {
  ok: 0,
  warning: 1,
  critical: 2,
  unknown: 3,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];
export type NagiosCodeValue = (typeof NagiosCode)[keyof typeof NagiosCode];
