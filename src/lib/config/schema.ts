// The configuration file's schema: key names are a contract with users and scripts
// (docs/configuration.md documents each one; a test checks that it does).
import { defaultApiPort, defaultBeaconPort, parseListen } from './listen.js';
import { s, type Infer } from './schema-kit.js';

const postgresKeys = {
  bin_dir: s.absolutePath().optional(),
  os_user: s.roleName(),
  port: s.integer(1, 65535),
  superuser: s.roleName(),
  socket_dir: s.absolutePath(),
  passfile: s.absolutePath().optional(),
  config_dir: s.absolutePath().optional(),
  log_file: s.absolutePath().optional(),
  connect_timeout: s.duration(1),
  statement_timeout: s.duration(1),
  sslmode: s.oneOf(['disable', 'prefer', 'require', 'verify-ca', 'verify-full'] as const),
  sslrootcert: s.absolutePath().optional(),
  sslcert: s.absolutePath().optional(),
  sslkey: s.absolutePath().optional(),
  channel_binding: s.oneOf(['disable', 'prefer', 'require'] as const),
};

export const postgresDefaults = {
  os_user: 'postgres',
  port: 5432,
  superuser: 'postgres',
  socket_dir: '/var/run/postgresql',
  connect_timeout: 3000,
  statement_timeout: 10_000,
  sslmode: 'disable' as const,
  channel_binding: 'prefer' as const,
};

const postgresSchema = s
  .object({
    bin_dir: postgresKeys.bin_dir,
    os_user: postgresKeys.os_user.default(postgresDefaults.os_user),
    port: postgresKeys.port.default(postgresDefaults.port),
    superuser: postgresKeys.superuser.default(postgresDefaults.superuser),
    socket_dir: postgresKeys.socket_dir.default(postgresDefaults.socket_dir),
    passfile: postgresKeys.passfile,
    config_dir: postgresKeys.config_dir,
    log_file: postgresKeys.log_file,
    connect_timeout: postgresKeys.connect_timeout.default(postgresDefaults.connect_timeout),
    statement_timeout: postgresKeys.statement_timeout.default(postgresDefaults.statement_timeout),
    sslmode: postgresKeys.sslmode.default(postgresDefaults.sslmode),
    sslrootcert: postgresKeys.sslrootcert,
    sslcert: postgresKeys.sslcert,
    sslkey: postgresKeys.sslkey,
    channel_binding: postgresKeys.channel_binding.default(postgresDefaults.channel_binding),
  })
  .default({
    ...postgresDefaults,
    bin_dir: undefined,
    passfile: undefined,
    config_dir: undefined,
    log_file: undefined,
    sslrootcert: undefined,
    sslcert: undefined,
    sslkey: undefined,
  });

/** A node may override any postgres key; what it leaves out comes from the top-level block. */
const postgresOverridesSchema = s.object({
  bin_dir: postgresKeys.bin_dir,
  os_user: postgresKeys.os_user.optional(),
  port: postgresKeys.port.optional(),
  superuser: postgresKeys.superuser.optional(),
  socket_dir: postgresKeys.socket_dir.optional(),
  passfile: postgresKeys.passfile,
  config_dir: postgresKeys.config_dir,
  log_file: postgresKeys.log_file,
  connect_timeout: postgresKeys.connect_timeout.optional(),
  statement_timeout: postgresKeys.statement_timeout.optional(),
  sslmode: postgresKeys.sslmode.optional(),
  sslrootcert: postgresKeys.sslrootcert,
  sslcert: postgresKeys.sslcert,
  sslkey: postgresKeys.sslkey,
  channel_binding: postgresKeys.channel_binding.optional(),
});

/** No control characters: each value becomes one `key=value` line of a fence agent's stdin. */
export function isOneLine(value: string): boolean {
  for (let index = 0; index < value.length; index += 1) {
    const code = value.charCodeAt(index);
    if (code < 0x20 || code === 0x7f) return false;
  }
  return true;
}

/** An absolute path of letters, digits and `_ . / + -`: no shell or `env` ever misreads it. */
export function isProgramPath(value: string): boolean {
  return /^\/[\w./+-]*$/.test(value) && !value.endsWith('/');
}

const fenceDeviceSchema = s.object({
  name: s
    .matching('a label of letters, digits, "_", "-" and "."', (v) => /^[\w.-]+$/.test(v))
    .optional(),
  agent: s.matching('a fence agent name such as fence_ipmilan, "ipmitool" or "command"', (v) =>
    /^[A-Za-z0-9_][\w.-]*$/.test(v),
  ),
  ip: s.host().optional(),
  ipport: s.integer(1, 65535).optional(),
  username: s.matching('a user name on one line (no control characters)', isOneLine).optional(),
  password_file: s.absolutePath().optional(),
  command: s
    .matching(
      'one absolute path to an executable, without arguments (they go under options)',
      isProgramPath,
    )
    .optional(),
  options: s.record(s.scalar()).default({}),
  connect_timeout: s.duration(100).default(2000),
  timeout: s.duration(1000).default(20_000),
});

/** One device, or an ordered list of them (fence levels, tried in turn). */
const fenceSchema = s.array(fenceDeviceSchema, { min: 1, max: 8, acceptSingle: true });

const listenSchema = s.matching(
  "ADDRESS:PORT, [IPv6]:PORT, or :PORT for the node's own address (port 1 to 65535)",
  (v) => parseListen(v) !== undefined,
);

/** The supervisor's HTTP health API (src/lib/api); `false` turns it off. */
export const defaultApiListen = `:${defaultApiPort}`;

/** The supervisors' UDP beacon (src/lib/beacon); `false` turns it off. */
export const defaultBeaconListen = `:${defaultBeaconPort}`;
const beaconDefaults = { interval: 100, timeout: 500, confirm_timeout: 500 };

const nodeSchema = s.object({
  name: s.identifier(),
  address: s.host(),
  data_dir: s.absolutePath(),
  postgres: postgresOverridesSchema.optional(),
  fence: fenceSchema.optional(),
  /** Overrides the top-level api for this node (the loopback lab: both on 127.0.0.1). */
  api: s.falseOr(s.object({ listen: listenSchema })).optional(),
  /** Overrides where this node's beacon listens (the loopback lab: both on 127.0.0.1). */
  beacon: s.falseOr(s.object({ listen: listenSchema })).optional(),
});

const vipSchema = s.object({
  address: s.cidr(),
  interface: s.interfaceName(),
  label: s.string('an interface label such as eth0:1').optional(),
});

const heartbeatDefaults = {
  database: 'sky_pg_cluster',
  user: 'sky_pg_cluster',
  monitor_user: undefined,
  interval: 1000,
  timeout: 1000,
  misses: 3,
  io_check: false,
  io_check_interval: 60_000,
};

/** {cluster} and {node} are replaced, so one file serves both nodes (and the loopback lab). */
export const defaultStateFile = '/run/skypg/{cluster}-{node}.json';

/**
 * A hook's command: the program's absolute path alone, or a list of it and fixed arguments,
 * run without a shell (load.ts checks the path, the first item).
 */
const hookCommandSchema = s.array(s.string('a program path or an argument, on one line'), {
  min: 1,
  max: 32,
  acceptSingle: true,
});

export const hookDefaults = { timeout: 30_000, pre_promote_timeout: 5000 };

/** The longest pre_promote may hold a promotion up (docs/hooks.md). */
export const prePromoteTimeoutCeilingMs = 30_000;

const hooksSchema = s
  .object({
    timeout: s.duration(100, 3_600_000).default(hookDefaults.timeout),
    on_role_change: hookCommandSchema.optional(),
    on_fence: hookCommandSchema.optional(),
    on_promote: hookCommandSchema.optional(),
    on_demote: hookCommandSchema.optional(),
    on_failover_blocked: hookCommandSchema.optional(),
    on_rejoin: hookCommandSchema.optional(),
    on_switchover: hookCommandSchema.optional(),
    pre_promote: s
      .object({
        command: hookCommandSchema,
        timeout: s
          .duration(100, prePromoteTimeoutCeilingMs)
          .default(hookDefaults.pre_promote_timeout),
      })
      .optional(),
  })
  .default({
    timeout: hookDefaults.timeout,
    on_role_change: undefined,
    on_fence: undefined,
    on_promote: undefined,
    on_demote: undefined,
    on_failover_blocked: undefined,
    on_rejoin: undefined,
    on_switchover: undefined,
    pre_promote: undefined,
  });

export const configSchema = s.object({
  cluster: s.identifier(),
  postgres: postgresSchema,
  nodes: s.array(nodeSchema, { min: 2, max: 2 }),
  vip: s
    .object({
      primary: vipSchema.optional(),
      standby: vipSchema.optional(),
      announce: s
        .object({
          count: s.integer(1, 100).default(5),
          // iputils arping takes whole seconds only.
          interval: s
            .matching('whole seconds from 1s to 60s', (v) => /^([1-9]|[1-5]\d|60)s$/.test(v))
            .default('1s'),
        })
        .default({ count: 5, interval: '1s' }),
      dad_timeout: s.duration(100, 60_000).default(500),
      command_prefix: s.array(s.string(), { min: 1 }).optional(),
    })
    .optional(),
  gateway: s.array(s.ipAddress(), { acceptSingle: true }).default([]),
  heartbeat: s
    .object({
      database: s.roleName().default(heartbeatDefaults.database),
      user: s.roleName().default(heartbeatDefaults.user),
      monitor_user: s.roleName().optional(),
      interval: s.duration(100).default(heartbeatDefaults.interval),
      timeout: s.duration(100).default(heartbeatDefaults.timeout),
      misses: s.integer(1, 100).default(heartbeatDefaults.misses),
      io_check: s.boolean().default(heartbeatDefaults.io_check),
      io_check_interval: s.duration(1000).default(heartbeatDefaults.io_check_interval),
    })
    .default(heartbeatDefaults),
  replication: s
    .object({
      user: s.roleName().default('replica'),
      mode: s.oneOf(['async', 'sync'] as const).default('async'),
      sync_degrade_after: s.duration(1000).default(10_000),
      slot: s
        .matching(
          'a slot name of lowercase letters, digits and "_", where {node} stands for the standby\'s node name',
          (v) => /^([a-z0-9_]|\{node\})+$/.test(v),
        )
        .optional(),
    })
    .default({ user: 'replica', mode: 'async', sync_degrade_after: 10_000, slot: undefined }),
  failover: s
    .object({
      max_lag: s.size().default(16 * 1024 * 1024),
      fencing: s.oneOf(['required', 'none'] as const).default('required'),
      isolation_timeout: s.duration(1000).default(5000),
      auto_rejoin: s.boolean().default(true),
    })
    .default({
      max_lag: 16 * 1024 * 1024,
      fencing: 'required',
      isolation_timeout: 5000,
      auto_rejoin: true,
    }),
  api: s
    .falseOr(s.object({ listen: listenSchema.default(defaultApiListen) }))
    .default({ listen: defaultApiListen }),
  beacon: s
    .falseOr(
      s.object({
        listen: listenSchema.default(defaultBeaconListen),
        interval: s.duration(20, 5000).default(beaconDefaults.interval),
        timeout: s.duration(60, 30_000).default(beaconDefaults.timeout),
        confirm_timeout: s.duration(50, 30_000).default(beaconDefaults.confirm_timeout),
      }),
    )
    .default({ listen: defaultBeaconListen, ...beaconDefaults }),
  supervisor: s
    .object({ state_file: s.absolutePath().default(defaultStateFile) })
    .default({ state_file: defaultStateFile }),
  hooks: hooksSchema,
});

export type RawConfig = Infer<typeof configSchema>;
export type RawNode = RawConfig['nodes'][number];
