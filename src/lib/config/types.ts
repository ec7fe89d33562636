// The validated configuration as the rest of skypg sees it: defaults applied, durations in
// milliseconds, sizes in bytes, and each node's effective PostgreSQL settings merged.

export interface PostgresSettings {
  /** Directory of the server programs; undefined means "discover" (docs/configuration.md). */
  bin_dir: string | undefined;
  os_user: string;
  port: number;
  superuser: string;
  socket_dir: string;
  /** libpq password file for every connection skypg makes; undefined = libpq's default. */
  passfile: string | undefined;
  /** Directory holding postgresql.conf when it is not the data directory (Debian: /etc/postgresql/N/main). */
  config_dir: string | undefined;
  /** Server log file for pg_ctl -l; undefined leaves logging to PostgreSQL's own settings. */
  log_file: string | undefined;
  connect_timeout: number;
  statement_timeout: number;
  /** TLS for skypg's own TCP connections (never the Unix socket), as libpq's sslmode. */
  sslmode: 'disable' | 'prefer' | 'require' | 'verify-ca' | 'verify-full';
  sslrootcert: string | undefined;
  sslcert: string | undefined;
  sslkey: string | undefined;
  channel_binding: 'disable' | 'prefer' | 'require';
}

/** One fence device (a level): tried in the order listed, each verified OFF. */
export interface FenceConfig {
  /** What messages call it: `name`, else the agent. */
  label: string;
  agent: string;
  ip: string | undefined;
  ipport: number | undefined;
  username: string | undefined;
  password_file: string | undefined;
  command: string | undefined;
  options: Record<string, string>;
  /** Deadline of a status query: a device that cannot be reached fails this fast. */
  connect_timeout: number;
  timeout: number;
}

export interface NodeConfig {
  name: string;
  address: string;
  data_dir: string;
  postgres: PostgresSettings;
  /** Fence levels in order; empty when the node has no fence device. */
  fence: FenceConfig[];
  /** Where this node's supervisor serves the HTTP health API; undefined when it is off. */
  api: { host: string; port: number } | undefined;
  /** Where this node's supervisor hears the peer's beacon (UDP); undefined when it is off. */
  beacon: { host: string; port: number } | undefined;
}

export interface VipConfig {
  /** With its prefix length, as `ip addr add` takes it: 10.231.0.130/24. */
  address: string;
  /** Derived: the address alone, as clients and ping take it: 10.231.0.130. */
  host: string;
  interface: string;
  label: string | undefined;
}

export interface ClusterConfig {
  cluster: string;
  nodes: [NodeConfig, NodeConfig];
  vip: {
    primary: VipConfig | undefined;
    standby: VipConfig | undefined;
    /** Gratuitous ARP after taking an address: how many, how far apart (whole seconds). */
    announce: { count: number; intervalSeconds: number };
    /** How long duplicate address detection listens for another holder. */
    dad_timeout: number;
    /** Prepended to every ip/arping command (e.g. sudo and a narrow wrapper). */
    command_prefix: string[] | undefined;
  };
  gateway: string[];
  heartbeat: {
    database: string;
    user: string;
    /** Read-only role for monitoring hosts (status, check-lag); none when unset. */
    monitor_user?: string;
    interval: number;
    timeout: number;
    misses: number;
    io_check: boolean;
    io_check_interval: number;
  };
  replication: {
    user: string;
    mode: 'async' | 'sync';
    sync_degrade_after: number;
    /** The physical slot each standby streams through, {node} expanded (pg/slots.ts). */
    slot: string | undefined;
  };
  failover: {
    max_lag: number;
    fencing: 'required' | 'none';
    isolation_timeout: number;
    auto_rejoin: boolean;
  };
  /** The supervisors' beacon: how often each sends, how long a silence is a signal, and how
   * long the checks of the peer wait in a look that follows a signal (at most
   * heartbeat.timeout); undefined when it is off (either node's beacon off turns it off). */
  beacon: { interval: number; timeout: number; confirm_timeout: number } | undefined;
  supervisor: { state_file: string };
  hooks: HooksConfig;
}

export type VipRole = 'primary' | 'standby';

/** The events a hook may be set for: `hooks.on_<event>` (docs/hooks.md). */
export type HookEventName =
  'role_change' | 'fence' | 'promote' | 'demote' | 'failover_blocked' | 'rejoin' | 'switchover';

/** A program (absolute path) and its fixed arguments, run without a shell. */
export interface HookCommand {
  path: string;
  args: string[];
}

export interface HooksConfig {
  /** How long each event hook may run before it is killed. */
  timeout: number;
  /** The command of each event that has one. */
  commands: Partial<Record<HookEventName, HookCommand>>;
  /** Run before the supervisor's promotions: a non-zero exit or its timeout vetoes one. */
  pre_promote: { command: HookCommand; timeout: number } | undefined;
}
