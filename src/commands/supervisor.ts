import { Flags } from '@oclif/core';
import { SkypgCommand, clusterFlags, type CommandResult } from '../lib/cli/base-command.js';

interface SupervisorResult {
  node: string;
  loops: number;
  state?: string;
  reason?: string;
}

export default class Supervisor extends SkypgCommand<SupervisorResult> {
  static override summary =
    'Run the HA supervisor for this node in the foreground (systemd): observe, decide, act, every heartbeat.interval.';
  static override description =
    'Each loop observes the local server, the peer, the VIPs and the gateways (concurrently, each ' +
    'within heartbeat.timeout), decides with the failover policy (docs/failover.md), acts, ' +
    'rewrites the state file read by check-alive and status, and logs one JSON line per decision ' +
    'and action. SIGTERM/SIGINT stop it after the current loop without touching PostgreSQL or the ' +
    'VIPs; SIGHUP reopens --log-file. Unless api is false it serves the HTTP health API (GET /primary, ' +
    '/replica, /health, /metrics...: docs/monitoring.md) on api.listen, default the node address, port 8008. Unless beacon is false it sends the peer a UDP beacon every beacon.interval (port 8009): a silence of beacon.timeout, or the peer saying its server stopped answering, makes it check at once (the checks of the peer then bounded by beacon.confirm_timeout), and one failed check then declares the primary failed. It refuses to start on a shape it cannot drive (a ' +
    'replication slot the configuration does not name, a Debian start.conf of auto). --once runs a single loop; --dry-run logs actions without ' +
    'doing them.';
  static override examples = [
    '<%= config.bin %> supervisor --log-file /var/log/skypg/supervisor.log',
    '<%= config.bin %> supervisor --once --dry-run',
  ];
  static override flags = {
    ...clusterFlags,
    once: Flags.boolean({ summary: 'Run one loop and exit.' }),
    'dry-run': Flags.boolean({ summary: 'Decide and log, but do nothing.' }),
    'log-file': Flags.string({
      summary: 'Append JSON lines here instead of stdout (reopened on SIGHUP).',
      helpValue: 'FILE',
    }),
  };

  protected async execute(): Promise<CommandResult<SupervisorResult>> {
    const { flags } = await this.parse(Supervisor);
    const cluster = await this.loadCluster(flags);
    const node = cluster.localNode();
    const { JsonLog } = await import('../lib/supervisor/log.js');
    const { runSupervisor } = await import('../lib/supervisor/loop.js');
    const { assertDrivableShape } = await import('../lib/supervisor/shape.js');
    const { createHookWatcher } = await import('../lib/hooks/watcher.js');
    const { startLoopSignals } = await import('../lib/supervisor/signals.js');
    await assertDrivableShape(cluster.config, node);
    const log = new JsonLog(flags['log-file'], node.name);
    const hooks = createHookWatcher(cluster.config, node, log, { dryRun: flags['dry-run'] });
    // --once observes once: nothing can cut a pause it does not take.
    const signals = flags.once ? undefined : startLoopSignals(cluster.config, node, log);
    // --once answers no HTTP client: it ends before one could ask.
    const api =
      node.api === undefined || flags.once
        ? undefined
        : (await import('../lib/api/server.js')).startHealthApi(
            cluster.config,
            node,
            node.api,
            log,
            {
              hookStats: hooks.stats,
              ...(signals?.beaconStats === undefined ? {} : { beaconStats: signals.beaconStats }),
            },
          );
    const stop = new AbortController();
    const onStop = (): void => {
      stop.abort();
    };
    const onHangup = (): void => {
      log.reopen();
    };
    process.on('SIGTERM', onStop);
    process.on('SIGINT', onStop);
    process.on('SIGHUP', onHangup);
    try {
      const summary = await runSupervisor(cluster.config, node, {
        once: flags.once,
        dryRun: flags['dry-run'],
        log,
        signal: stop.signal,
        version: this.config.version,
        watchers: [
          ...(api === undefined ? [] : [api.recorder]),
          hooks,
          ...(signals?.watchers ?? []),
        ],
        ...signals?.options,
      });
      const decision = summary.lastDecision;
      return {
        data: {
          node: node.name,
          loops: summary.loops,
          ...(decision ? { state: decision.state, reason: decision.reason } : {}),
        },
        text: flags.once && decision ? [`${node.name}: ${decision.state}: ${decision.reason}`] : [],
      };
    } finally {
      process.off('SIGTERM', onStop);
      process.off('SIGINT', onStop);
      process.off('SIGHUP', onHangup);
      await api?.close();
      await signals?.close();
      await hooks.close();
      await log.close();
    }
  }
}
