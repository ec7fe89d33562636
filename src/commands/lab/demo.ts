import { Flags } from '@oclif/core';
import { SkypgCommand, type CommandResult } from '../../lib/cli/base-command.js';
import type { DemoResult } from '../../lib/lab/demo.js';
import { ExitCode } from '../../lib/common/exit-codes.js';
import { labDirFlag } from './up.js';

export default class LabDemo extends SkypgCommand<DemoResult> {
  static override summary = 'Watch a real failover on this machine in about a minute (root).';
  static override description =
    'Builds two hosts (network namespaces) with PostgreSQL, a gateway, a client and a simulated ' +
    'BMC each; starts a supervisor on each host and a client writing through the primary VIP; ' +
    'hangs the primary host; narrates detection, fencing, promotion, the VIP move and the first ' +
    'accepted write with elapsed seconds; powers the old primary back on and waits until it ' +
    'streams again; shows the status and how many acknowledged writes were lost; tears it all ' +
    'down (--keep leaves it running). Exit 0 only if the story completed as told.';
  static override examples = [
    'sudo <%= config.bin %> lab demo',
    '<%= config.bin %> lab demo --keep --dir /tmp/demo',
  ];
  static override flags = {
    dir: labDirFlag,
    keep: Flags.boolean({ summary: 'Leave the lab running afterwards (remove it with lab down).' }),
  };

  protected async execute(): Promise<CommandResult<DemoResult>> {
    const { flags } = await this.parse(LabDemo);
    const { runDemo } = await import('../../lib/lab/demo.js');
    const fs = await import('node:fs/promises');
    const os = await import('node:os');
    const path = await import('node:path');
    const json = this.jsonEnabled();
    const started = Date.now();
    let dir = flags.dir;
    let madeParent: string | undefined;
    if (dir === undefined) {
      const parent = await fs.mkdtemp(path.join(os.tmpdir(), 'skypg-demo-'));
      madeParent = parent;
      // PostgreSQL runs as its own OS user and must be able to enter the lab's parent.
      await fs.chmod(parent, 0o711);
      dir = path.join(parent, 'lab');
    }
    const result = await runDemo({
      dir,
      keep: flags.keep,
      onProgress: (line) => {
        if (!json) this.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s] ${line}`);
      },
    });
    if (madeParent !== undefined && !flags.keep)
      await fs.rm(madeParent, { recursive: true, force: true });
    const clean = result.splitBrainSamples === 0;
    return {
      data: result,
      text: [
        '',
        ...result.status,
        '',
        `writes acknowledged: ${result.writesAcknowledged}, lost: ${result.writesLost} (async replication: a few may be lost; replication.mode sync loses none)`,
        `samples with two writable primaries: ${result.splitBrainSamples}`,
        result.kept
          ? `the lab is still running in ${result.dir} ('skypg lab down --dir ${result.dir}' removes it)`
          : 'the lab was removed',
      ],
      exitCode: clean ? ExitCode.ok : ExitCode.error,
    };
  }
}
