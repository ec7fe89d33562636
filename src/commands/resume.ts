import { SkypgCommand, clusterFlags, type CommandResult } from '../lib/cli/base-command.js';
import type { PauseResult } from '../lib/heartbeat/pause.js';

export default class Resume extends SkypgCommand<PauseResult> {
  static override summary = 'Resume automatic failover after `skypg pause`.';
  static override examples = ['<%= config.bin %> resume'];
  static override flags = clusterFlags;

  protected async execute(): Promise<CommandResult<PauseResult>> {
    const { flags } = await this.parse(Resume);
    const { config } = await this.loadCluster(flags);
    const { setPause } = await import('../lib/heartbeat/pause.js');
    const result = await setPause(config, undefined);
    return {
      data: result,
      text: [`cluster ${config.cluster} resumed (flag cleared on ${result.writtenOn})`],
    };
  }
}
