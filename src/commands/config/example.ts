import { SkypgCommand, type CommandResult } from '../../lib/cli/base-command.js';
import { exampleConfig } from '../../lib/config/example.js';

export default class ConfigExample extends SkypgCommand<{ yaml: string }> {
  static override summary = 'Print a complete, commented example configuration.';
  static override description =
    'The output passes `skypg config check` as it is; edit addresses, paths and devices.';
  static override examples = ['<%= config.bin %> config example > /etc/skypg/skypg.yaml'];

  protected async execute(): Promise<CommandResult<{ yaml: string }>> {
    await this.parse(ConfigExample);
    return { data: { yaml: exampleConfig }, text: [exampleConfig.trimEnd()] };
  }
}
