// Doctor checks answered by the servers themselves: settings, pg_hba rules, roles, real
// logins, and the clocks of both hosts.
import { lstat, readFile, realpath, stat } from 'node:fs/promises';
import type { NodeConfig } from '../config/types.js';
import { SkypgError, messageOf } from '../common/errors.js';
import { writeFileAtomicAs } from '../fs/atomic-write.js';
import { auditReaderRoles, initHeartbeat } from '../heartbeat/init.js';
import { clusterStatusTable } from '../heartbeat/table.js';
import { heartbeatDbTarget } from '../heartbeat/targets.js';
import { localTarget, remoteTarget, withConnection, type ConnectTarget } from '../pg/connect.js';
import { quoteIdent } from '../pg/sql.js';
import type { CheckResult, FixAction } from './checklist.js';
import {
  adminTarget,
  readTarget,
  nodeWithRole,
  peerNode,
  unreachable,
  type DoctorContext,
} from './context.js';
import {
  addressOnly,
  clientAddresses,
  connectionsTo,
  describeConnection,
  evaluateHba,
  hbaLineFor,
  withHbaBlock,
  type HbaConnection,
  type HbaRule,
  vipAddresses,
} from './hba.js';
import { alterSystemSql, evaluateSettings, type SettingRow } from './settings.js';

// ---------------------------------------------------------------- settings

export async function checkSettings(
  context: DoctorContext,
  node: NodeConfig,
): Promise<CheckResult> {
  const survey = context.survey.get(node.name);
  if (survey?.role === undefined) return unreachable('settings', node, context);
  const { config } = context;
  const peer = peerNode(context, node);
  // The heartbeat role has pg_read_all_settings, which may read every setting.
  const { rows, hasSlot } = await withConnection(readTarget(context, node), async (session) => {
    const settings = await session.query<SettingRow>(
      'select name, setting, context, pending_restart from pg_settings',
    );
    const [slots] = await session.query<{ count: string }>(
      'select count(*)::text as count from pg_replication_slots where slot_type = $1',
      ['physical'],
    );
    return { rows: settings, hasSlot: Number(slots?.count ?? 0) > 0 };
  });
  const settings = new Map(rows.map((row) => [row.name, row]));
  const verdicts = evaluateSettings(config, {
    settings,
    role: survey.role,
    nodeAddress: node.address,
    vips: vipAddresses(config),
    peerName: peer.name,
    hasSlot,
  });
  const bad = verdicts.filter((verdict) => verdict.status !== 'ok');
  if (bad.length === 0) {
    return {
      id: 'settings',
      node: node.name,
      scope: 'network',
      status: 'ok',
      found: verdicts.map((verdict) => verdict.found).join('; '),
    };
  }
  const fixLines: string[] = [];
  const fixes: FixAction[] = [];
  for (const verdict of bad) {
    if (verdict.fixValue !== undefined) {
      const restart = settings.get(verdict.name)?.context === 'postmaster';
      const sql = `${alterSystemSql(verdict.name, verdict.fixValue)}; SELECT pg_reload_conf();`;
      fixLines.push(`${sql}${restart ? `  -- then restart PostgreSQL on ${node.name}` : ''}`);
      fixes.push({
        describe: `${node.name}: ${sql}${restart ? ' (takes effect after a restart)' : ''}`,
        apply: async () => {
          await withConnection(adminTarget(context, node), async (session) => {
            await session.query(alterSystemSql(verdict.name, verdict.fixValue ?? null));
            await session.query('select pg_reload_conf()');
          });
          return restart
            ? `${verdict.name} needs a restart of PostgreSQL on ${node.name}`
            : undefined;
        },
      });
    } else if (verdict.fixText !== undefined) {
      fixLines.push(verdict.fixText);
    }
  }
  const status = bad.some((verdict) => verdict.status === 'fail') ? 'fail' : 'warn';
  return {
    id: 'settings',
    node: node.name,
    scope: 'network',
    status,
    found: bad.map((verdict) => verdict.found).join('; '),
    ...(fixLines.length === 0 ? {} : { fix: fixLines.join('\n') }),
    ...(fixes.length === 0 ? {} : { fixes }),
  };
}

// ---------------------------------------------------------------- pg_hba

interface HbaSnapshot {
  rules: HbaRule[];
  hbaFile: string;
  ssl: boolean;
  method: string;
  memberships: Map<string, Set<string>>;
}

async function readHba(
  context: DoctorContext,
  node: NodeConfig,
  users: string[],
): Promise<HbaSnapshot> {
  return withConnection(adminTarget(context, node), async (session) => {
    const rules = await session.query<HbaRule>(
      'select line_number, type, database, user_name, address, netmask, auth_method, error from pg_hba_file_rules order by line_number',
    );
    const [row] = await session.query<{ hba_file: string; ssl: string; method: string }>(
      "select current_setting('hba_file') as hba_file, current_setting('ssl') as ssl, current_setting('password_encryption') as method",
    );
    const memberships = new Map<string, Set<string>>();
    for (const user of users) {
      const roles = await session.query<{ rolname: string }>(
        `select r.rolname from pg_roles r
          where exists (select 1 from pg_roles u where u.rolname = $1)
            and pg_has_role($1, r.oid, 'member')`,
        [user],
      );
      memberships.set(user, new Set(roles.map((role) => role.rolname)));
    }
    return {
      rules,
      hbaFile: row?.hba_file ?? '',
      ssl: row?.ssl === 'on',
      method: row?.method ?? 'scram-sha-256',
      memberships,
    };
  });
}

export async function checkHba(context: DoctorContext, node: NodeConfig): Promise<CheckResult> {
  if (context.survey.get(node.name)?.role === undefined) return unreachable('hba', node, context);
  const { config } = context;
  const connections = connectionsTo(config, node);
  const users = [...new Set(connections.map((connection) => connection.user))];
  const failure = (found: string, fix: string): CheckResult => ({
    id: 'hba',
    node: node.name,
    scope: 'network',
    status: 'fail',
    found,
    fix,
  });
  let snapshot: HbaSnapshot;
  try {
    snapshot = await readHba(context, node, users);
  } catch (error) {
    return failure(
      `cannot read pg_hba_file_rules as ${node.postgres.superuser}: ${messageOf(error)}`,
      `let ${node.postgres.superuser} log in from here (skypg needs it for pg_rewind), or run skypg doctor on ${node.name}`,
    );
  }
  const nodeVips = vipAddresses(config);
  const hbaContext = {
    memberOf: (user: string, role: string) => snapshot.memberships.get(user)?.has(role) ?? false,
    serverAddresses: [node.address, ...nodeVips],
  };
  const problems: string[] = [];
  const missing: HbaConnection[] = [];
  let unknown = false;
  for (const rule of snapshot.rules.filter((candidate) => candidate.error !== null)) {
    problems.push(`line ${rule.line_number}: ${rule.error ?? ''}`);
  }
  for (const connection of connections) {
    const verdict = evaluateHba(
      snapshot.rules,
      { ...connection, ssl: connection.replication && snapshot.ssl },
      hbaContext,
    );
    if (verdict.kind === 'admitted') continue;
    if (verdict.kind === 'unknown') {
      unknown = true;
      problems.push(
        `${describeConnection(connection)}: line ${verdict.line} uses ${verdict.why}, which doctor cannot evaluate`,
      );
      continue;
    }
    const why =
      verdict.kind === 'rejected' ? `rejected by line ${verdict.line}` : 'no line admits it';
    problems.push(`${describeConnection(connection)}: ${why}`);
    missing.push(connection);
  }
  const found =
    problems.length === 0
      ? `${snapshot.hbaFile} admits all ${connections.length} connections skypg makes (from ${clientAddresses(config).join(', ')} and the socket)`
      : problems.join('; ');
  if (problems.length === 0)
    return { id: 'hba', node: node.name, scope: 'network', status: 'ok', found };
  let lines: string[];
  try {
    lines = [...new Set(missing.map((connection) => hbaLineFor(connection, snapshot.method)))];
  } catch (error) {
    return failure(
      `${found}; ${messageOf(error)}`,
      `add lines for these connections to ${snapshot.hbaFile} by hand (see docs/operations.md)`,
    );
  }
  const failed = missing.length > 0 || snapshot.rules.some((rule) => rule.error !== null);
  const where =
    context.local === node ? '' : ` (on ${node.name}: skypg doctor --fix there adds them)`;
  return {
    id: 'hba',
    node: node.name,
    scope: 'network',
    status: failed ? 'fail' : unknown ? 'warn' : 'ok',
    found,
    ...(lines.length === 0
      ? {}
      : {
          fix: `add at the top of ${snapshot.hbaFile}${where}, then SELECT pg_reload_conf();\n${lines.join('\n')}`,
        }),
    ...(lines.length === 0 || context.local !== node
      ? {}
      : { fixes: [hbaFix(context, node, snapshot.hbaFile, lines)] }),
  };
}

/** Rule errors in the pg_hba file as PostgreSQL reads it from disk now (pg_hba_file_rules). */
async function hbaFileErrors(context: DoctorContext, node: NodeConfig): Promise<string[]> {
  return withConnection(adminTarget(context, node), async (session) => {
    const rows = await session.query<{ line_number: number; error: string }>(
      'select line_number, error from pg_hba_file_rules where error is not null',
    );
    return rows.map((row) => `line ${row.line_number}: ${row.error}`);
  });
}

/**
 * The pg_hba file doctor may write: the file itself or, through links (Debian's layout may use
 * one), a regular file owned by the data directory's owner. Anything else is refused: root
 * would be writing a file the PostgreSQL user could have pointed it at.
 */
async function writableHbaFile(
  file: string,
  dataDir: string,
): Promise<{ path: string; mode: number }> {
  const [path, owner] = await Promise.all([realpath(file), stat(dataDir)]);
  const info = await lstat(path);
  if (!info.isFile() || info.uid !== owner.uid) {
    throw new SkypgError(
      'REFUSED',
      `${path}${path === file ? '' : ` (where ${file} leads)`} is not a regular file owned by the data directory's owner (uid ${owner.uid}): doctor does not write it`,
      { hint: `add the lines by hand, or make ${file} a file the PostgreSQL user owns` },
    );
  }
  return { path, mode: info.mode & 0o777 };
}

/**
 * Puts the missing lines in skypg's block above every other rule, as the PostgreSQL OS user
 * (so no link can make root write elsewhere), checks what the server would read, and reloads;
 * with new rule errors it puts the old file back and reloads nothing.
 */
export function hbaFix(
  context: DoctorContext,
  node: NodeConfig,
  file: string,
  lines: string[],
): FixAction {
  return {
    describe: `${node.name}: add ${lines.length} line(s) at the top of ${file} and reload:\n${lines.map((line) => `  ${line}`).join('\n')}`,
    apply: async () => {
      const { path, mode } = await writableHbaFile(file, node.data_dir);
      const text = await readFile(path, 'utf8');
      const next = withHbaBlock(text, lines);
      if (next === text) return `${file} already has these lines: nothing written`;
      const osUser = node.postgres.os_user;
      const before = await hbaFileErrors(context, node);
      await writeFileAtomicAs(osUser, path, next, mode);
      const after = await hbaFileErrors(context, node);
      if (after.length > before.length) {
        await writeFileAtomicAs(osUser, path, text, mode);
        throw new SkypgError(
          'REFUSED',
          `the new ${file} had errors (${after.join('; ')}): the old file is back, nothing reloaded`,
          { hint: `add the lines to ${file} by hand` },
        );
      }
      await withConnection(adminTarget(context, node), (session) =>
        session.query('select pg_reload_conf()'),
      );
      return undefined;
    },
  };
}

// ---------------------------------------------------------------- roles

interface RoleRow {
  rolname: string;
  rolsuper: boolean;
  rolcanlogin: boolean;
  rolreplication: boolean;
  rolcreaterole: boolean;
  rolcreatedb: boolean;
}

/**
 * What the heartbeat and monitoring roles may do beyond the model of docs/security.md: read
 * other sessions' queries, own an object, write operator state, make temporary tables; and
 * whether the heartbeat table is still a plain table a superuser owns.
 */
async function heartbeatExcess(context: DoctorContext, source: NodeConfig): Promise<string[]> {
  const { heartbeat } = context.config;
  const readers = [
    heartbeat.user,
    ...(heartbeat.monitor_user === undefined ? [] : [heartbeat.monitor_user]),
  ];
  const route = context.local === source ? 'socket' : 'tcp';
  const target = heartbeatDbTarget(context.config, source, 'superuser', route);
  return withConnection(target, async (session) => {
    const { roles: rows, trusted } = await auditReaderRoles(session, readers);
    const found = rows.flatMap((row) => [
      ...(row.stats
        ? [`${row.rolname} can read other sessions' query text (pg_read_all_stats)`]
        : []),
      ...(row.owns ? [`${row.rolname} owns objects in ${heartbeat.database}`] : []),
      ...(row.temp ? [`${row.rolname} may create temporary tables`] : []),
      ...(row.writes.length > 0 ? [`${row.rolname} may write ${row.writes.join(', ')}`] : []),
    ]);
    const monitor = heartbeat.monitor_user;
    if (monitor !== undefined && !rows.some((row) => row.rolname === monitor))
      found.push(`monitoring role ${monitor} does not exist`);
    if (!trusted)
      found.push(`${clusterStatusTable} is missing or not a table owned by a superuser`);
    return found;
  }).catch((error: unknown) => [`cannot check the heartbeat grants: ${messageOf(error)}`]);
}

export async function checkRoles(context: DoctorContext): Promise<CheckResult> {
  const { config } = context;
  const primary = nodeWithRole(context, 'primary');
  const source = primary ?? context.local;
  const base = {
    id: 'roles',
    scope: 'network' as const,
    ...(source === undefined ? {} : { node: source.name }),
  };
  if (source === undefined) {
    return {
      ...base,
      status: 'fail',
      found: 'no primary answered',
      fix: 'start the primary, then run doctor again',
    };
  }
  const { heartbeat, replication } = config;
  const superuser = source.postgres.superuser;
  const excess = await heartbeatExcess(context, source);
  const { roles, canConnect } = await withConnection(
    adminTarget(context, source),
    async (session) => {
      const rows = await session.query<RoleRow>(
        `select rolname, rolsuper, rolcanlogin, rolreplication, rolcreaterole, rolcreatedb
         from pg_roles where rolname = any($1)`,
        [[heartbeat.user, replication.user, superuser]],
      );
      const [privilege] = await session.query<{ ok: boolean | null }>(
        `select case when exists (select 1 from pg_database where datname = $2)
                    and exists (select 1 from pg_roles where rolname = $1)
               then has_database_privilege($1, $2, 'CONNECT') end as ok`,
        [heartbeat.user, heartbeat.database],
      );
      return {
        roles: new Map(rows.map((row) => [row.rolname, row])),
        canConnect: privilege?.ok ?? false,
      };
    },
  );
  const problems: string[] = [];
  const warnings: string[] = [];
  const sql: string[] = [];
  let heartbeatInit = false;
  const rep = roles.get(replication.user);
  if (rep === undefined) {
    problems.push(`replication role ${replication.user} does not exist`);
    sql.push(`CREATE ROLE ${quoteIdent(replication.user)} LOGIN REPLICATION`);
  } else {
    if (!rep.rolcanlogin || !rep.rolreplication) {
      problems.push(
        `${replication.user} lacks ${[!rep.rolcanlogin && 'LOGIN', !rep.rolreplication && 'REPLICATION'].filter(Boolean).join(' and ')}`,
      );
      sql.push(`ALTER ROLE ${quoteIdent(replication.user)} LOGIN REPLICATION`);
    }
    if (rep.rolsuper)
      warnings.push(`${replication.user} is a superuser (REPLICATION is all it needs)`);
  }
  const hb = roles.get(heartbeat.user);
  if (hb === undefined || !hb.rolcanlogin || !canConnect) {
    problems.push(
      hb === undefined
        ? `heartbeat role ${heartbeat.user} does not exist`
        : `${heartbeat.user} lacks ${[!hb.rolcanlogin && 'LOGIN', !canConnect && `CONNECT on ${heartbeat.database}`].filter(Boolean).join(', ')}`,
    );
    heartbeatInit = true;
  } else if (excess.length > 0) {
    problems.push(...excess);
    heartbeatInit = true;
  } else if (hb.rolsuper || hb.rolcreaterole || hb.rolcreatedb) {
    warnings.push(
      `${heartbeat.user} has more than it needs (${[hb.rolsuper && 'SUPERUSER', hb.rolcreaterole && 'CREATEROLE', hb.rolcreatedb && 'CREATEDB'].filter(Boolean).join(', ')})`,
    );
    sql.push(`ALTER ROLE ${quoteIdent(heartbeat.user)} NOSUPERUSER NOCREATEROLE NOCREATEDB`);
  }
  const su = roles.get(superuser);
  if (su?.rolsuper !== true) problems.push(`${superuser} is not a superuser (postgres.superuser)`);
  const found =
    problems.length + warnings.length === 0
      ? `${replication.user} (LOGIN REPLICATION), ${heartbeat.user} (LOGIN, CONNECT on ${heartbeat.database}, UPDATE of the beat columns, owns nothing)${heartbeat.monitor_user === undefined ? '' : `, ${heartbeat.monitor_user} (SELECT only)`}, ${superuser} (SUPERUSER)`
      : [...problems, ...warnings].join('; ');
  const fixText = [
    ...sql.map((statement) => `${statement};`),
    ...(heartbeatInit ? [`skypg heartbeat init   # on the primary (${source.name})`] : []),
    ...(rep === undefined
      ? [`then set its password (\\password ${replication.user}) and add it to the password file`]
      : []),
  ];
  const fixes: FixAction[] = [];
  if (primary !== undefined && sql.length > 0) {
    fixes.push({
      describe: `${primary.name}: ${sql.join('; ')}`,
      apply: async () => {
        await withConnection(adminTarget(context, primary), async (session) => {
          for (const statement of sql) await session.query(statement);
        });
        return rep === undefined
          ? `set a password for ${replication.user} and add it to the password file`
          : undefined;
      },
    });
  }
  if (heartbeatInit && primary !== undefined && primary === context.local) {
    fixes.push({
      describe: `${primary.name}: skypg heartbeat init (role ${heartbeat.user}, database ${heartbeat.database}, objects owned by ${superuser})`,
      apply: async () => {
        await initHeartbeat(config, primary);
        return undefined;
      },
    });
  }
  return {
    ...base,
    status: problems.length > 0 ? 'fail' : warnings.length > 0 ? 'warn' : 'ok',
    found,
    ...(fixText.length === 0 ? {} : { fix: fixText.join('\n') }),
    ...(fixes.length === 0 ? {} : { fixes }),
  };
}

// ---------------------------------------------------------------- logins

interface LoginTest {
  what: string;
  node: string;
  target: ConnectTarget;
}

/** Every connection skypg makes from this machine, tried for real. */
export function loginTests(context: DoctorContext): LoginTest[] {
  const { config, local } = context;
  const tests: LoginTest[] = [];
  const where = (target: ConnectTarget): string =>
    target.host.startsWith('/') ? `the socket ${target.host}` : `${target.host}:${target.port}`;
  const add = (node: NodeConfig, role: string, target: ConnectTarget): void => {
    tests.push({
      what: `${role} ${target.user} to ${target.database} via ${where(target)}`,
      node: node.name,
      target,
    });
  };
  if (local !== undefined) {
    add(local, 'superuser', localTarget(local));
    add(local, 'superuser', heartbeatDbTarget(config, local, 'superuser', 'socket'));
    add(local, 'heartbeat', heartbeatDbTarget(config, local, 'heartbeat', 'socket'));
  }
  for (const node of config.nodes)
    add(node, 'heartbeat', heartbeatDbTarget(config, node, 'heartbeat', 'tcp'));
  const vip = config.vip.primary;
  const [first] = config.nodes;
  if (vip !== undefined) {
    add(first, 'heartbeat', {
      ...heartbeatDbTarget(config, first, 'heartbeat', 'tcp'),
      host: addressOnly(vip.address),
    });
  }
  // pg_rewind and the checkpoint before it reach the peer as the superuser; the walreceiver
  // reaches the primary (through the primary VIP when there is one) as the replication role.
  const peers = local === undefined ? config.nodes : config.nodes.filter((node) => node !== local);
  for (const node of peers) {
    add(node, 'superuser', remoteTarget(node));
    const replication = {
      ...remoteTarget(node, { database: 'replication', user: config.replication.user }),
      replication: true,
    };
    add(node, 'replication', replication);
    if (vip !== undefined)
      add(node, 'replication', { ...replication, host: addressOnly(vip.address) });
  }
  return tests;
}

export async function checkLogin(test: LoginTest): Promise<CheckResult> {
  const started = performance.now();
  const base = {
    id: 'login',
    node: test.node,
    scope: test.target.host.startsWith('/') ? ('local' as const) : ('network' as const),
  };
  try {
    await withConnection(test.target, (session) =>
      session.query(test.target.replication === true ? 'IDENTIFY_SYSTEM' : 'select 1'),
    );
    return {
      ...base,
      status: 'ok',
      found: `${test.what}: logged in (${Math.round(performance.now() - started)} ms)`,
    };
  } catch (error) {
    const hint =
      error instanceof SkypgError && error.hint !== undefined
        ? error.hint
        : 'check pg_hba.conf and the password file';
    return {
      ...base,
      status: 'fail',
      found: `${test.what}: ${messageOf(error)}`,
      fix: `${test.node}: ${hint}`,
    };
  }
}

// ---------------------------------------------------------------- clocks

interface ClockSample {
  offsetMs: number;
  rttMs: number;
}

/** Offset of a server's clock from ours, from the quickest of three round trips. */
async function clockOffset(target: ConnectTarget): Promise<ClockSample> {
  return withConnection(target, async (session) => {
    let best: ClockSample | undefined;
    for (let round = 0; round < 3; round += 1) {
      const before = Date.now();
      const [row] = await session.query<{ ms: number }>(
        'select extract(epoch from clock_timestamp())::float8 * 1000 as ms',
      );
      const after = Date.now();
      const sample = { offsetMs: (row?.ms ?? 0) - (before + after) / 2, rttMs: after - before };
      if (best === undefined || sample.rttMs < best.rttMs) best = sample;
    }
    if (best === undefined) throw new Error('no clock sample');
    return best;
  });
}

export async function checkClocks(context: DoctorContext): Promise<CheckResult> {
  const { config } = context;
  const [a, b] = config.nodes;
  const base = { id: 'clock', scope: 'network' as const };
  const samples = await Promise.all(
    [a, b].map((node) =>
      clockOffset(readTarget(context, node)).catch((error: unknown) => messageOf(error)),
    ),
  );
  const [sa, sb] = samples;
  if (typeof sa === 'string' || typeof sb === 'string' || sa === undefined || sb === undefined) {
    return {
      ...base,
      status: 'fail',
      found: `cannot read both clocks: ${samples.filter((s) => typeof s === 'string').join('; ')}`,
      fix: 'make both servers reachable, then run doctor again',
    };
  }
  const diffMs = Math.abs(sa.offsetMs - sb.offsetMs);
  const uncertainty = (sa.rttMs + sb.rttMs) / 2;
  const found = `${a.name} and ${b.name} differ by ${Math.round(diffMs)} ms (±${Math.round(uncertainty)} ms)`;
  const failMs = config.heartbeat.timeout;
  const status = diffMs > failMs ? 'fail' : diffMs > 1000 ? 'warn' : 'ok';
  return {
    ...base,
    status,
    found:
      status === 'ok'
        ? found
        : `${found}: above ${status === 'fail' ? `heartbeat.timeout (${failMs} ms)` : '1 s'}`,
    ...(status === 'ok'
      ? {}
      : {
          fix: 'synchronise both hosts with NTP (chrony or systemd-timesyncd): timedatectl set-ntp true',
        }),
  };
}
