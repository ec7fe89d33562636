// The doctor's checklist: one result per check, its rendering, and the Nagios-style exit code.
// Pure: the checks themselves live in the other files of this directory.

/** skip: the check does not apply here (not this node, no systemd, nothing configured). */
export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

/** Where a check can run: `local` checks need to run on the node itself (files, processes). */
export type CheckScope = 'local' | 'network';

/** A change --fix may make: safe online, shown before it is made. */
export interface FixAction {
  /** What it does, as an operator would type it (SQL, a config line). */
  describe: string;
  /** Run it; resolves with a note (e.g. "restart needed"), rejects on failure. */
  apply: () => Promise<string | undefined>;
}

export interface CheckResult {
  /** Stable identifier, e.g. `pg.settings`, `hba`, `fence` (docs/cli.md lists them). */
  id: string;
  /** Which node it is about, when it is about one. */
  node?: string;
  scope: CheckScope;
  status: CheckStatus;
  /** What was found, one sentence. */
  found: string;
  /** The exact fix: a command, a configuration line or a SQL statement. */
  fix?: string;
  /** Changes --fix can make for this result. Not part of the JSON. */
  fixes?: FixAction[];
}

const order: Record<CheckStatus, number> = { ok: 0, skip: 0, warn: 1, fail: 2 };

/** Nagios-compatible: 0 all OK (skips do not count), 1 any WARN, 2 any FAIL. */
export function doctorExitCode(results: readonly Pick<CheckResult, 'status'>[]): 0 | 1 | 2 {
  const worst = Math.max(0, ...results.map((result) => order[result.status]));
  return worst === 2 ? 2 : worst === 1 ? 1 : 0;
}

/** The worse of two statuses (skip counts as ok). */
export function worse(a: CheckStatus, b: CheckStatus): CheckStatus {
  return order[b] > order[a] || (a === 'skip' && b !== 'skip') ? b : a;
}

const labels: Record<CheckStatus, string> = { ok: 'OK', warn: 'WARN', fail: 'FAIL', skip: 'SKIP' };

/** One line per check: status, id and node, what was found; the fix indented below it. */
export function renderChecklist(results: readonly CheckResult[]): string[] {
  const lines: string[] = [];
  const width = Math.max(0, ...results.map((result) => subject(result).length));
  for (const result of results) {
    const scope = result.scope === 'local' ? ' (local)' : '';
    lines.push(
      `${labels[result.status].padEnd(4)}  ${subject(result).padEnd(width)}  ${result.found}${scope}`,
    );
    if (result.fix !== undefined && (result.status === 'warn' || result.status === 'fail')) {
      for (const [index, line] of result.fix.split('\n').entries()) {
        lines.push(`${' '.repeat(6)}${index === 0 ? 'fix: ' : '     '}${line}`);
      }
    }
  }
  lines.push(summaryLine(results));
  return lines;
}

export function summaryLine(results: readonly Pick<CheckResult, 'status'>[]): string {
  const count = (status: CheckStatus): number =>
    results.filter((result) => result.status === status).length;
  return `${count('ok')} ok, ${count('warn')} warn, ${count('fail')} fail, ${count('skip')} skipped`;
}

function subject(result: CheckResult): string {
  return result.node === undefined ? result.id : `${result.id} ${result.node}`;
}

/** The JSON form of a result: everything but the fix actions. */
export function resultJson(result: CheckResult): Omit<CheckResult, 'fixes'> {
  const json: CheckResult = { ...result };
  delete json.fixes;
  return json;
}
