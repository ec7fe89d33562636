import { Flags } from '@oclif/core';
import { SkypgCommand, type CommandResult } from '../../lib/cli/base-command.js';
import type { LabShape } from '../../lib/lab/lab-shapes.js';
import type { AnyLab } from '../../lib/lab/sandbox.js';

export const labDirFlag = Flags.string({
  summary: 'Directory of the lab.',
  description: 'Defaults to $SKYPG_LAB_DIR, else skypg-lab in the system temp directory.',
  helpValue: 'DIR',
});

export default class LabUp extends SkypgCommand<AnyLab> {
  static override summary = 'Build a sandbox primary and streaming standby on this machine.';
  static override description =
    'As root: the multi-host lab. host1 and host2 are network namespaces on one switch with ' +
    'PostgreSQL (host1 primary, host2 a streaming standby), a gateway and a client machine, the ' +
    'primary and standby VIPs, a simulated IPMI BMC per host for fencing (and with ' +
    '--fence-levels 2 a simulated switched PDU as the second fence level), and a skypg ' +
    'supervisor on each host; it returns once the pair is healthy. Break it with lab fault, ' +
    'repair it with lab heal, read the supervisors with lab logs.\n\n' +
    'Not root (or with --loopback): two PostgreSQL servers on loopback ports in one directory, ' +
    'host1 primary and host2 a hot standby, without VIPs, fencing, network faults or ' +
    'supervisors, because those need network namespaces and only root can make them. ' +
    'Either way the directory holds the skypg configuration that describes the pair.';
  static override examples = [
    'sudo <%= config.bin %> lab up',
    '<%= config.bin %> lab up --loopback --dir /tmp/mylab',
  ];
  static override flags = {
    dir: labDirFlag,
    loopback: Flags.boolean({
      summary: 'Build the loopback pair even as root (no VIPs, fencing or supervisors).',
    }),
    'fence-levels': Flags.string({
      summary:
        'Fence levels per host in the multi-host lab: 1 (its BMC) or 2 (then its PDU outlet).',
      options: ['1', '2'],
      default: '1',
      helpValue: 'N',
    }),
    shape: Flags.string({
      summary:
        'How the multi-host pair is built: lab (its own config), example (skypg config example with paths filled in), by-hand (pg_basebackup -R with a slot, ~/.pgpass, logging_collector, archiving) or debian (configuration in a separate directory).',
      options: ['lab', 'example', 'by-hand', 'debian'],
      default: 'lab',
      helpValue: 'SHAPE',
    }),
  };

  protected async execute(): Promise<CommandResult<AnyLab>> {
    const { flags } = await this.parse(LabUp);
    const { defaultLabDir } = await import('../../lib/lab/loopback-pair.js');
    const { sandboxUp, rootOnlyFeatures } = await import('../../lib/lab/sandbox.js');
    const { primaryVipAddress } = await import('../../lib/lab/netns-lab.js');
    const { isRoot } = await import('../../lib/process/run-program.js');
    const json = this.jsonEnabled();
    const lab = await sandboxUp({
      dir: flags.dir ?? defaultLabDir(),
      loopback: flags.loopback,
      fenceLevels: flags['fence-levels'] === '2' ? 2 : 1,
      shape: flags.shape as LabShape,
      onStep: (step) => {
        if (!json) this.log(`  - ${step}`);
      },
    });
    const dirFlag = flags.dir === undefined ? '' : ` --dir ${lab.state.dir}`;
    const bin = this.config.bin;
    if (lab.kind === 'netns') {
      const [host1, host2] = lab.state.hosts;
      return {
        data: lab,
        text: [
          `lab up in ${lab.state.dir}: host1 (${host1.address}) primary, host2 (${host2.address}) streaming standby, a supervisor on each`,
          '',
          'Use it:',
          `  ${bin} lab status${dirFlag}          # both hosts as the client machine sees them`,
          `  ${bin} lab fault kill${dirFlag}      # or poweroff, blackout, partition, freeze; --node host2`,
          `  ${bin} lab logs${dirFlag}            # both supervisors' decisions, merged by time`,
          `  ${bin} lab heal${dirFlag}            # undo every fault; the old primary rejoins`,
          `  ${bin} lab down${dirFlag}            # remove every process, namespace and file`,
          '',
          'A psql session through the primary VIP, from the client machine:',
          `  ip netns exec ${lab.state.netns.client} env PGPASSFILE=${lab.state.passfile} ${lab.state.binDir}/psql -h ${primaryVipAddress} -U postgres`,
        ],
      };
    }
    const [host1, host2] = lab.state.nodes;
    return {
      data: lab,
      text: [
        `lab up in ${lab.state.dir}: host1 primary on 127.0.0.1:${host1.port}, host2 standby on 127.0.0.1:${host2.port}`,
        isRoot()
          ? 'This is the loopback pair (--loopback): no VIPs, fencing, faults or supervisors.'
          : `This is the loopback pair, ${rootOnlyFeatures} (run lab up as root for those).`,
        '',
        'Use it:',
        `  export SKYPG_CONFIG=${lab.state.configPath}`,
        `  ${bin} lab status${dirFlag}`,
        `  psql -h ${host1.socketDir} -p ${host1.port} -U postgres`,
        `  ${bin} lab down${dirFlag}`,
      ],
    };
  }
}
