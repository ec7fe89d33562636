import { Flags } from '@oclif/core';
import { SkypgCommand, type CommandResult } from '../../lib/cli/base-command.js';
import type { MergedLogLine } from '../../lib/lab/sandbox.js';
import { labDirFlag } from './up.js';

export default class LabLogs extends SkypgCommand<MergedLogLine[]> {
  static override summary = "Both supervisors' logs of the multi-host lab, merged by time.";
  static override description =
    'One line per event: time (UTC), host, then the decision (state, rule and reason) or the ' +
    'action (what, ok or failed, how long, details). A decision is logged when it changes or ' +
    'acts, so a quiet healthy pair writes little. --json gives the raw log records, each with ' +
    'its host (not with --follow).';
  static override examples = [
    '<%= config.bin %> lab logs',
    '<%= config.bin %> lab logs --lines 0',
    '<%= config.bin %> lab logs --follow',
  ];
  static override flags = {
    dir: labDirFlag,
    lines: Flags.integer({
      char: 'n',
      summary: 'Show the last N lines (0: all).',
      default: 40,
      min: 0,
      helpValue: 'N',
    }),
    follow: Flags.boolean({
      char: 'f',
      summary: 'Keep printing new lines until interrupted (Ctrl-C).',
    }),
  };

  protected async execute(): Promise<CommandResult<MergedLogLine[]>> {
    const { flags } = await this.parse(LabLogs);
    const { defaultLabDir } = await import('../../lib/lab/loopback-pair.js');
    const { readNetnsLab, mergedSupervisorLogs, renderLogLine } =
      await import('../../lib/lab/sandbox.js');
    const state = await readNetnsLab(flags.dir ?? defaultLabDir(), 'lab logs');
    const all = await mergedSupervisorLogs(state);
    const shown = flags.lines === 0 ? all : all.slice(-flags.lines);
    if (!flags.follow) return { data: shown, text: shown.map(renderLogLine) };

    if (this.jsonEnabled()) {
      const { SkypgError } = await import('../../lib/common/errors.js');
      throw new SkypgError('USAGE', '--follow and --json cannot be used together', {
        hint: 'use --json alone for the log records, or --follow alone to watch them',
      });
    }
    const print = (line: MergedLogLine): void => {
      this.log(renderLogLine(line));
    };
    shown.forEach(print);
    // The logs only grow (the lab never rotates them): what is new is what lies past the count.
    const printed = { host1: 0, host2: 0 };
    for (const line of all) printed[line.host] += 1;
    const { repeatUntilInterrupted } = await import('../../lib/cli/repeat.js');
    await repeatUntilInterrupted(500, async () => {
      const now = await mergedSupervisorLogs(state);
      const seen = { host1: 0, host2: 0 };
      for (const line of now) {
        seen[line.host] += 1;
        if (seen[line.host] > printed[line.host]) print(line);
      }
      printed.host1 = seen.host1;
      printed.host2 = seen.host2;
    });
    return { data: [] };
  }
}
