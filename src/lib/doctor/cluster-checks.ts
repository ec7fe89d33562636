// Doctor checks of the pair as a whole: fence devices, VIPs, the supervisors (their freshness,
// version and configuration) and the data directory layout of both nodes.
import { getFromApi } from '../api/client.js';
import { formatListen } from '../config/listen.js';
import { configHash } from '../config/hash.js';
import type { NodeConfig, VipRole } from '../config/types.js';
import { SkypgError, messageOf } from '../common/errors.js';
import { evaluateAlive, observeAlive } from '../checks/alive.js';
import { describeLevel, queryLevel } from '../fence/fence.js';
import { heartbeatDbTarget } from '../heartbeat/targets.js';
import { withConnection } from '../pg/connect.js';
import {
  parseSupervisorState,
  stateFilePath,
  type SupervisorState,
} from '../supervisor/state-file.js';
import { vipStatus } from '../net/vip.js';
import type { CheckResult } from './checklist.js';
import { adminTarget, nodeWithRole, readTarget, type DoctorContext } from './context.js';
import { addressOnly } from './hba.js';
import { walLink } from './host-checks.js';

/**
 * The node's supervisor answers GET /liveness on its health API as itself: what HAProxy,
 * Kubernetes and Prometheus ask. WARN when it does not (doctor's host may be firewalled off the
 * port while the load balancers are not); FAIL when another node or program answers there.
 */
export async function checkApi(_context: DoctorContext, node: NodeConfig): Promise<CheckResult> {
  const base = { id: 'api', node: node.name, scope: 'network' as const };
  if (node.api === undefined) return { ...base, status: 'skip', found: 'api is false' };
  const where = formatListen(node.api.host, node.api.port);
  const host = node.api.host === '0.0.0.0' || node.api.host === '::' ? node.address : node.api.host;
  const logHint = `on ${node.name}, look for "health API cannot listen" in the supervisor log; open port ${node.api.port} to the load balancers and Prometheus`;
  let answer;
  try {
    answer = await getFromApi(host, node.api.port, '/liveness', 2000);
  } catch (error) {
    return {
      ...base,
      status: 'warn',
      found: `the health API on ${where} does not answer: ${messageOf(error)}`,
      fix: logHint,
    };
  }
  let answeredAs: unknown;
  try {
    answeredAs = (JSON.parse(answer.body) as { node?: unknown }).node;
  } catch {
    answeredAs = undefined;
  }
  if (answeredAs !== node.name) {
    return {
      ...base,
      status: 'fail',
      found: `${where} answers, but not as ${node.name}'s supervisor (HTTP ${answer.status}${typeof answeredAs === 'string' ? `, node ${answeredAs}` : ''})`,
      fix: `give each node its own api.listen, and make sure nothing else listens on ${where}`,
    };
  }
  if (answer.status !== 200) {
    return {
      ...base,
      status: 'warn',
      found: `the health API on ${where} says its loop is not recent (/liveness ${answer.status})`,
      fix: `journalctl -u skypg on ${node.name}: the supervisor's loop is stuck or starting`,
    };
  }
  return {
    ...base,
    status: 'ok',
    found: `the health API on ${where} answers /liveness as ${node.name} (${answer.ms} ms)`,
  };
}

/**
 * Every fence level answers `status` with ON, with the configured credentials (never `off`):
 * a level that only fails during a blackout is found now. fence_ipmilan is a WARN: it hands
 * the password to ipmitool on the command line.
 */
export async function checkFence(context: DoctorContext, node: NodeConfig): Promise<CheckResult> {
  const base = { id: 'fence', node: node.name, scope: 'network' as const };
  if (node.fence.length === 0) {
    return context.config.failover.fencing === 'none'
      ? { ...base, status: 'skip', found: 'failover.fencing is none' }
      : {
          ...base,
          status: 'fail',
          found: 'no fence device configured while failover.fencing is required',
          fix: `add nodes[${node.name}].fence (docs/configuration.md)`,
        };
  }
  const found: string[] = [];
  const fixes: string[] = [];
  let status: CheckResult['status'] = 'ok';
  for (const [index, fence] of node.fence.entries()) {
    const level = describeLevel(fence, index + 1);
    const started = performance.now();
    try {
      const power = await queryLevel(node, fence);
      const ms = Math.round(performance.now() - started);
      if (power === 'on') found.push(`${level} answers status ON (${ms} ms)`);
      else {
        status = 'fail';
        found.push(`${level} reports power OFF`);
        fixes.push(`skypg fence ${node.name} --action on   # if ${node.name} should be running`);
      }
    } catch (error) {
      status = 'fail';
      found.push(`${level}: ${messageOf(error)}`);
      // A password file problem has its own exact fix; anything else could be any of these.
      const passwordFix =
        error instanceof SkypgError && /password file/.test(error.message) ? error.hint : undefined;
      fixes.push(
        passwordFix ??
          `check ${fence.password_file ?? 'the credentials'}, the user's power rights (IPMI OPERATOR) and the address of ${level}; test with skypg fence ${node.name} --action status`,
      );
    }
    if (fence.agent === 'fence_ipmilan') {
      if (status === 'ok') status = 'warn';
      found.push(
        `${level} uses fence_ipmilan, which puts the password on ipmitool's command line (visible in ps)`,
      );
      fixes.push('use agent: ipmitool with password_file (it reads the password with -f)');
    }
  }
  return {
    ...base,
    status,
    found: found.join('; '),
    ...(fixes.length === 0 ? {} : { fix: fixes.join('\n') }),
  };
}

/**
 * The primary VIP on the primary and nobody else; the standby VIP on the standby. Through the
 * VIP: which server answers (by its postmaster start time). Here: held or not, and who else
 * answers ARP for it (duplicate address detection, as vip.ts does).
 */
export async function checkVip(context: DoctorContext, role: VipRole): Promise<CheckResult> {
  const base = { id: `vip-${role}`, scope: 'network' as const };
  const vip = context.config.vip[role];
  if (vip === undefined) return { ...base, status: 'skip', found: `vip.${role} is not configured` };
  const owner = nodeWithRole(context, role);
  if (owner === undefined)
    return {
      ...base,
      status: 'fail',
      found: `no ${role} answered, so nobody should hold ${vip.address}`,
      fix: `start the ${role} first`,
    };
  const address = addressOnly(vip.address);
  const problems: string[] = [];
  const fixes: string[] = [];
  const [first] = context.config.nodes;
  const answered = await withConnection(
    { ...heartbeatDbTarget(context.config, first, 'heartbeat', 'tcp'), host: address },
    (session) =>
      session.query<{ started: string }>('select pg_postmaster_start_time()::text as started'),
  ).then(
    ([row]) =>
      context.config.nodes.find((node) => context.survey.get(node.name)?.startedAt === row?.started)
        ?.name ?? 'an unknown server',
    (error: unknown) => `nobody (${messageOf(error)})`,
  );
  const here = context.local;
  if (answered !== owner.name) {
    problems.push(`through ${address} answers ${answered}, not the ${role} ${owner.name}`);
    // On another node, the local look below names the fix for this host.
    if (here === undefined || here === owner)
      fixes.push(
        `skypg vip up ${role}   # on ${owner.name} (after 'skypg vip down ${role}' on any other holder)`,
      );
  }
  if (here !== undefined) {
    try {
      const status = await vipStatus(context.config, role);
      if (here === owner) {
        if (!status.heldHere) {
          problems.push(`${here.name} is the ${role} but does not hold ${vip.address}`);
          fixes.push(`skypg vip up ${role}   # here`);
        }
        if (status.otherHolders.length > 0) {
          problems.push(`another host also answers for it (${status.otherHolders.join(', ')})`);
          fixes.push(`skypg vip down ${role}   # on the other host (never two holders)`);
        }
      } else {
        if (status.heldHere) {
          problems.push(`${here.name} holds ${vip.address} but is not the ${role}`);
          fixes.push(`skypg vip down ${role}   # here, on ${here.name}`);
        }
        if (status.otherHolders.length > 1)
          problems.push(
            `${status.otherHolders.length} other hosts answer for it (${status.otherHolders.join(', ')})`,
          );
      }
    } catch (error) {
      problems.push(`cannot look at the VIP here: ${messageOf(error)}`);
    }
  }
  return problems.length === 0
    ? {
        ...base,
        node: owner.name,
        status: 'ok',
        found: `${vip.address} is served by the ${role} ${owner.name}${here === undefined ? '' : ' and no other host answers ARP for it'}`,
      }
    : {
        ...base,
        node: owner.name,
        status: 'fail',
        found: problems.join('; '),
        fix: [...new Set(fixes)].join('\n'),
      };
}

interface SupervisorView {
  state: SupervisorState;
  ageSeconds: number;
}

/** A supervisor's state file: here directly, on the peer through its PostgreSQL (pg_read_file). */
async function readPeerState(
  context: DoctorContext,
  node: NodeConfig,
): Promise<SupervisorView | undefined> {
  const path = stateFilePath(context.config, node.name);
  return withConnection(adminTarget(context, node), async (session) => {
    const [row] = await session.query<{ text: string | null }>(
      'select pg_read_file($1, 0, 1000000, true) as text',
      [path],
    );
    if (row?.text === null || row?.text === undefined) return undefined;
    const state = parseSupervisorState(row.text, `${node.name}:${path}`);
    // Its age on the peer's own clock: the writer's clock, so skew does not count.
    const [clock] = await session.query<{ age: number }>(
      'select extract(epoch from now() - $1::timestamptz)::float8 as age',
      [state.updatedAt],
    );
    return { state, ageSeconds: Math.max(0, clock?.age ?? 0) };
  });
}

export interface SupervisorCheck {
  result: CheckResult;
  state?: SupervisorState;
}

export async function checkSupervisor(
  context: DoctorContext,
  node: NodeConfig,
): Promise<SupervisorCheck> {
  const { config } = context;
  const maxAge = (3 * config.heartbeat.interval) / 1000;
  const path = stateFilePath(config, node.name);
  const base = { id: 'supervisor', node: node.name };
  const restart = `start it: systemctl start skypg   # on ${node.name}`;
  if (node === context.local) {
    const observation = await observeAlive(path, Date.now());
    const outcome = evaluateAlive(observation, maxAge);
    const status = outcome.state === 'ok' ? 'ok' : outcome.state === 'warning' ? 'warn' : 'fail';
    return {
      result: {
        ...base,
        scope: 'local',
        status,
        found: outcome.text,
        ...(status === 'fail'
          ? { fix: restart }
          : status === 'warn'
            ? { fix: 'skypg resume   # when the maintenance is over' }
            : {}),
      },
      ...(observation.state === undefined ? {} : { state: observation.state }),
    };
  }
  let view: SupervisorView | undefined;
  try {
    view = await readPeerState(context, node);
  } catch (error) {
    return {
      result: {
        ...base,
        scope: 'network',
        status: 'fail',
        found: `cannot read its state file ${path} through PostgreSQL: ${messageOf(error)}`,
        fix: `run skypg doctor on ${node.name}`,
      },
    };
  }
  if (view === undefined) {
    return {
      result: {
        ...base,
        scope: 'network',
        status: 'fail',
        found: `no state file at ${path}: the supervisor has not run there`,
        fix: restart,
      },
    };
  }
  const { state, ageSeconds } = view;
  const age = `${ageSeconds.toFixed(1)}s`;
  if (ageSeconds > maxAge) {
    return {
      result: {
        ...base,
        scope: 'network',
        status: 'fail',
        found: `state file is ${age} old (max ${maxAge}s): the supervisor is stopped or stuck (last state ${state.state})`,
        fix: restart,
      },
      state,
    };
  }
  const summary = `supervisor pid ${state.pid} ${state.state}, updated ${age} ago: ${state.reason}`;
  return state.paused
    ? {
        result: {
          ...base,
          scope: 'network',
          status: 'warn',
          found: `cluster paused; ${summary}`,
          fix: 'skypg resume   # when the maintenance is over',
        },
        state,
      }
    : { result: { ...base, scope: 'network', status: 'ok', found: summary }, state };
}

/** Both supervisors run this skypg version and this configuration. */
export function checkSupervisorIdentity(
  context: DoctorContext,
  states: (SupervisorState | undefined)[],
): CheckResult {
  const base = { id: 'supervisor-identity', scope: 'network' as const };
  const ours = configHash(context.config);
  const known = states.filter((state): state is SupervisorState => state !== undefined);
  if (known.length === 0)
    return { ...base, status: 'skip', found: 'no supervisor state to compare' };
  const problems: string[] = [];
  const warnings: string[] = [];
  for (const state of known) {
    if (state.configHash === undefined || state.skypgVersion === undefined) {
      warnings.push(
        `${state.node}'s supervisor does not record its version and configuration (an older skypg)`,
      );
      continue;
    }
    if (state.configHash !== ours)
      problems.push(
        `${state.node}'s supervisor runs another configuration (hash ${state.configHash}, here ${ours})`,
      );
    if (state.skypgVersion !== context.version)
      warnings.push(
        `${state.node}'s supervisor runs skypg ${state.skypgVersion}, this is ${context.version}`,
      );
  }
  const found =
    problems.length + warnings.length === 0
      ? `${known.map((state) => state.node).join(' and ')} run skypg ${context.version} with this configuration (hash ${ours})`
      : [...problems, ...warnings].join('; ');
  return {
    ...base,
    status: problems.length > 0 ? 'fail' : warnings.length > 0 ? 'warn' : 'ok',
    found,
    ...(problems.length + warnings.length === 0
      ? {}
      : {
          fix: 'copy the same configuration file and skypg version to both nodes, then restart each supervisor (systemctl restart skypg)',
        }),
  };
}

/** pg_wal and tablespace symlinks must point to the same paths on both nodes (the seed's rule). */
export async function checkLayout(
  context: DoctorContext,
  states: (SupervisorState | undefined)[],
): Promise<CheckResult> {
  const base = { id: 'layout', scope: 'network' as const };
  const { config } = context;
  const layouts = await Promise.all(
    config.nodes.map(async (node, index) => {
      const spaces = await withConnection(readTarget(context, node), (session) =>
        session.query<{ spcname: string; location: string }>(
          "select spcname, pg_tablespace_location(oid) as location from pg_tablespace where spcname not in ('pg_default', 'pg_global') order by spcname",
        ),
      ).catch(() => undefined);
      const wal = node === context.local ? await walLink(node.data_dir) : states[index]?.pgWal;
      return { node, spaces, wal };
    }),
  );
  const [a, b] = layouts;
  if (a === undefined || b === undefined)
    return { ...base, status: 'skip', found: 'two nodes needed' };
  if (a.spaces === undefined || b.spaces === undefined) {
    return { ...base, status: 'skip', found: 'cannot compare: a server did not answer' };
  }
  const problems: string[] = [];
  const show = (wal: string | null): string => (wal === null ? 'a directory' : `-> ${wal}`);
  let walText: string;
  if (a.wal === undefined || b.wal === undefined) {
    const [known, unknown] = a.wal === undefined ? [b, a] : [a, b];
    walText = `pg_wal ${known.wal === undefined ? 'unknown' : show(known.wal)} on ${known.node.name}, unknown on ${unknown.node.name} (its supervisor reports it; run doctor there)`;
  } else if (a.wal !== b.wal) {
    walText = '';
    problems.push(
      `pg_wal is ${show(a.wal)} on ${a.node.name} but ${show(b.wal)} on ${b.node.name}`,
    );
  } else {
    walText = `pg_wal ${show(a.wal)} on both`;
  }
  const elsewhere = new Map(b.spaces.map((space) => [space.spcname, space.location]));
  for (const { spcname, location } of a.spaces) {
    const other = elsewhere.get(spcname);
    if (other !== undefined && other !== location) {
      problems.push(
        `tablespace ${spcname} is ${location} on ${a.node.name} but ${other} on ${b.node.name}`,
      );
    }
  }
  if (problems.length > 0) {
    return {
      ...base,
      status: 'fail',
      found: problems.join('; '),
      fix: 'make the symlinks in both data directories point to the same paths (a rebuild copies them as they are on the primary)',
    };
  }
  return {
    ...base,
    status: 'ok',
    found: `${walText}; ${a.spaces.length} tablespace(s) at the same paths`,
  };
}
