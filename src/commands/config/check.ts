import { SkypgCommand, clusterFlags, type CommandResult } from '../../lib/cli/base-command.js';
import { SkypgError } from '../../lib/common/errors.js';

interface CheckResult {
  file: string;
  valid: boolean;
  problems: { file: string; line: number; col: number; path: string; message: string }[];
  warnings: string[];
}

export default class ConfigCheck extends SkypgCommand<CheckResult> {
  static override summary = 'Validate the configuration file and report every problem.';
  static override description =
    'Prints each problem as FILE:LINE:COL: key.path: what is wrong, on stderr, and exits 1. ' +
    'A valid file that gives up some safety (no VIP, no fencing...) gets warnings and exits 0.';
  static override examples = [
    '<%= config.bin %> config check -c /etc/skypg/skypg.yaml',
    '<%= config.bin %> config check --json',
  ];
  static override flags = { config: clusterFlags.config };

  protected async execute(): Promise<CommandResult<CheckResult>> {
    const { flags } = await this.parse(ConfigCheck);
    const { resolveConfigPath, loadConfigFile } = await import('../../lib/config/load.js');
    const file = resolveConfigPath(flags.config);
    try {
      const { warnings } = await loadConfigFile(file);
      return {
        data: { file, valid: true, problems: [], warnings },
        text: [`${file}: valid`],
        warnings,
      };
    } catch (error) {
      if (
        !(error instanceof SkypgError) ||
        error.code !== 'CONFIG_INVALID' ||
        !this.jsonEnabled()
      ) {
        throw error;
      }
      // With --json the problems are data, not an error envelope.
      const { checkConfigText } = await import('../../lib/config/load.js');
      const { readFile } = await import('node:fs/promises');
      const { problems } = await checkConfigText(await readFile(file, 'utf8'), file);
      return { data: { file, valid: false, problems, warnings: [] }, exitCode: 1 };
    }
  }
}
