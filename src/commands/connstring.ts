import { Flags } from '@oclif/core';
import { SkypgCommand, clusterFlags, type CommandResult } from '../lib/cli/base-command.js';
import { sessionTargets, type Connstring } from '../lib/config/connstring.js';

export default class ConnectionString extends SkypgCommand<Connstring> {
  static override summary =
    'Print a libpq multi-host URI for both nodes, for clients that reach the pair without a VIP.';
  static override description =
    'libpq (psql, and drivers built on it) tries the hosts in order and keeps the first session ' +
    'that matches target_session_attrs: read-write (the default) finds the primary, also after a ' +
    'failover once the client reconnects. read-only, primary, standby and prefer-standby need ' +
    'libpq 14 or newer. No password is printed: libpq takes it from ~/.pgpass or PGPASSFILE.';
  static override examples = [
    'psql "$(<%= config.bin %> connstring --database app --user app)"',
    '<%= config.bin %> connstring --target prefer-standby',
  ];
  static override flags = {
    ...clusterFlags,
    target: Flags.option({
      options: sessionTargets,
      default: 'read-write' as const,
      summary: 'What session to keep (libpq target_session_attrs).',
    })(),
    database: Flags.string({ summary: 'Database name.', default: 'postgres', helpValue: 'NAME' }),
    user: Flags.string({
      summary: 'Role name (default: left to libpq, the OS user).',
      helpValue: 'ROLE',
    }),
  };

  protected async execute(): Promise<CommandResult<Connstring>> {
    const { flags } = await this.parse(ConnectionString);
    const { config } = await this.loadCluster(flags);
    const { buildConnstring } = await import('../lib/config/connstring.js');
    const result = buildConnstring(config, {
      target: flags.target,
      database: flags.database,
      user: flags.user,
    });
    return { data: result, text: [result.uri] };
  }
}
