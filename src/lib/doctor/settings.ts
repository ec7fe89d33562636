// What a pair needs from each server's settings, judged from pg_settings rows. Pure: the
// rows come from the server, the verdicts and the ALTER SYSTEM fixes go back to the doctor.
import type { ClusterConfig } from '../config/types.js';

export interface SettingRow {
  name: string;
  setting: string;
  /** postmaster = restart needed; sighup = reload is enough. */
  context: string;
  pending_restart: boolean;
}

export interface SettingsInput {
  settings: ReadonlyMap<string, SettingRow>;
  role: 'primary' | 'standby';
  /** The node's own address, and the VIPs (without prefix). */
  nodeAddress: string;
  vips: string[];
  /** The standby's application_name as the primary should name it (sync mode). */
  peerName: string;
  /** A replication slot exists on this server (an alternative to wal_keep_size). */
  hasSlot: boolean;
}

export interface SettingVerdict {
  name: string;
  status: 'ok' | 'warn' | 'fail';
  found: string;
  /** ALTER SYSTEM value to set (or null to RESET), when a safe fix exists. */
  fixValue?: string | null;
  /** The fix as text, when it is not an ALTER SYSTEM (or in addition to one). */
  fixText?: string;
}

const on = (value: string | undefined): boolean => value === 'on';

export function evaluateSettings(config: ClusterConfig, input: SettingsInput): SettingVerdict[] {
  const get = (name: string): string | undefined => input.settings.get(name)?.setting;
  const verdicts: SettingVerdict[] = [];
  const need = (
    name: string,
    good: boolean,
    found: string,
    bad: 'warn' | 'fail',
    fixValue?: string | null,
    fixText?: string,
  ): void => {
    const pending = input.settings.get(name)?.pending_restart === true;
    if (good) {
      verdicts.push({ name, status: 'ok', found });
      return;
    }
    verdicts.push({
      name,
      status: bad,
      found: pending ? `${found}; a changed value waits for a restart` : found,
      ...(fixValue === undefined ? {} : { fixValue }),
      ...(fixText === undefined ? {} : { fixText }),
    });
  };

  const walLevel = get('wal_level') ?? 'unknown';
  need(
    'wal_level',
    walLevel === 'replica' || walLevel === 'logical',
    `wal_level = ${walLevel}`,
    'fail',
    'replica',
  );
  const senders = Number(get('max_wal_senders') ?? '0');
  // One for the standby, one for pg_basebackup's WAL stream during a rebuild.
  need('max_wal_senders', senders >= 2, `max_wal_senders = ${senders}`, 'fail', '10');
  need(
    'hot_standby',
    on(get('hot_standby')),
    `hot_standby = ${get('hot_standby') ?? '?'}`,
    'fail',
    'on',
  );
  const checksums = on(get('data_checksums'));
  const hints = on(get('wal_log_hints'));
  need(
    'wal_log_hints',
    hints || checksums,
    checksums
      ? 'data checksums on'
      : hints
        ? 'wal_log_hints = on'
        : `wal_log_hints = ${get('wal_log_hints') ?? '?'} and no data checksums: pg_rewind cannot run`,
    'fail',
    'on',
  );
  need(
    'hot_standby_feedback',
    on(get('hot_standby_feedback')),
    `hot_standby_feedback = ${get('hot_standby_feedback') ?? '?'}`,
    'warn',
    'on',
  );
  const keep = input.settings.has('wal_keep_size') ? 'wal_keep_size' : 'wal_keep_segments';
  const keepValue = `${get(keep) ?? '0'}${keep === 'wal_keep_size' ? 'MB' : ''}`;
  need(
    keep,
    Number(get(keep) ?? '0') > 0 || input.hasSlot,
    input.hasSlot
      ? 'a replication slot keeps WAL for the standby'
      : Number(get(keep) ?? '0') > 0
        ? `${keep} = ${keepValue}`
        : `${keep} = 0 and no replication slot: a standby that falls behind needs a rebuild`,
    'warn',
    keep === 'wal_keep_size' ? '1GB' : '64',
  );
  const archiveMode = get('archive_mode') ?? 'off';
  if (archiveMode === 'off') {
    verdicts.push({ name: 'archive_mode', status: 'ok', found: 'no WAL archive configured' });
  } else {
    const command = get('archive_command') ?? '';
    const library = get('archive_library') ?? '';
    need(
      'archive_command',
      command !== '' || library !== '',
      `archive_mode = ${archiveMode} but neither archive_command nor archive_library is set: WAL piles up in pg_wal`,
      'fail',
      undefined,
      "ALTER SYSTEM SET archive_command = '...'; SELECT pg_reload_conf();",
    );
    const restore = get('restore_command') ?? '';
    need(
      'restore_command',
      restore !== '',
      'an archive is configured but restore_command is empty: a rebuilt standby cannot fetch WAL from it',
      'warn',
      undefined,
      "ALTER SYSTEM SET restore_command = 'cp /ARCHIVE/%f %p'; SELECT pg_reload_conf();",
    );
  }
  verdicts.push(listenVerdict(get('listen_addresses') ?? '', input));
  verdicts.push(syncVerdict(config, get('synchronous_standby_names') ?? '', input));
  return verdicts;
}

function listenVerdict(value: string, input: SettingsInput): SettingVerdict {
  const listed = value.split(',').map((part) => part.trim());
  const found = `listen_addresses = '${value}'`;
  if (listed.some((address) => address === '*' || address === '0.0.0.0')) {
    return { name: 'listen_addresses', status: 'ok', found };
  }
  const missing = [input.nodeAddress, ...input.vips].filter((address) => !listed.includes(address));
  if (missing.length === 0) return { name: 'listen_addresses', status: 'ok', found };
  // Proposed, never applied: '*' would open every interface of the host. The exact list binds a
  // VIP only if it is here when PostgreSQL starts, unless net.ipv4.ip_nonlocal_bind = 1.
  const proposed = [...listed.filter((address) => address !== ''), ...missing].join(',');
  return {
    name: 'listen_addresses',
    status: 'fail',
    found: `${found} does not cover ${missing.join(', ')}`,
    fixText: `${alterSystemSql('listen_addresses', proposed)};  -- then restart PostgreSQL; set sysctl net.ipv4.ip_nonlocal_bind = 1 so that a VIP that arrives later is served`,
  };
}

function syncVerdict(config: ClusterConfig, value: string, input: SettingsInput): SettingVerdict {
  const name = 'synchronous_standby_names';
  const found = `${name} = '${value}' (replication.mode ${config.replication.mode})`;
  if (input.role === 'standby')
    return { name, status: 'ok', found: `${found}, not used on a standby` };
  if (config.replication.mode === 'async') {
    return value === ''
      ? { name, status: 'ok', found }
      : {
          name,
          status: 'fail',
          found: `${found}: writes wait for a standby skypg does not manage`,
          fixValue: null,
        };
  }
  if (value === '') {
    return {
      name,
      status: 'warn',
      found: `${found}: degraded to async (the supervisor sets it again once the standby streams)`,
      fixText: `check that ${input.peerName} streams; the supervisor restores synchronous_standby_names`,
    };
  }
  return value.includes(input.peerName)
    ? { name, status: 'ok', found }
    : {
        name,
        status: 'fail',
        found: `${found} does not name the standby ${input.peerName}`,
        fixText: `leave it to the supervisor: ALTER SYSTEM RESET ${name}; SELECT pg_reload_conf();`,
      };
}

/** `ALTER SYSTEM ...` for a verdict's fix value. */
export function alterSystemSql(name: string, value: string | null): string {
  return value === null
    ? `ALTER SYSTEM RESET ${name}`
    : `ALTER SYSTEM SET ${name} = '${value.replaceAll("'", "''")}'`;
}
