// What every doctor check shares: the configuration, which node this machine is (if any), and
// a first look at both servers (role, postmaster start) taken once before the checks run.
import type { ClusterConfig, NodeConfig } from '../config/types.js';
import { messageOf } from '../common/errors.js';
import { heartbeatDbTarget } from '../heartbeat/targets.js';
import { localTarget, remoteTarget, withConnection, type ConnectTarget } from '../pg/connect.js';
import { readServerStatus, type ServerRole } from '../pg/server-status.js';
import type { CheckResult } from './checklist.js';

export interface NodeSurvey {
  role?: ServerRole;
  /** pg_postmaster_start_time(): tells which server answered through a VIP. */
  startedAt?: string;
  /** Why the survey could not reach it. */
  error?: string;
  /** The connection that reached it. */
  target?: ConnectTarget;
}

export interface DoctorContext {
  config: ClusterConfig;
  /** The node doctor runs on; undefined with --all from a machine that is neither. */
  local: NodeConfig | undefined;
  version: string;
  survey: ReadonlyMap<string, NodeSurvey>;
}

/** The superuser connection skypg uses for a node: the socket on its own host, else TCP. */
export function adminTarget(context: DoctorContext, node: NodeConfig): ConnectTarget {
  return context.local === node ? localTarget(node) : remoteTarget(node);
}

/**
 * Role and postmaster start of each server, through the heartbeat role over TCP (what the
 * peer uses), else the superuser connection (before `heartbeat init` there is no heartbeat
 * role yet). The connection that worked serves the read-only checks of that node.
 */
export async function surveyNodes(
  config: ClusterConfig,
  local: NodeConfig | undefined,
): Promise<Map<string, NodeSurvey>> {
  const entries = await Promise.all(
    config.nodes.map(async (node): Promise<[string, NodeSurvey]> => {
      const admin = node === local ? localTarget(node) : remoteTarget(node);
      const errors: string[] = [];
      for (const target of [heartbeatDbTarget(config, node, 'heartbeat', 'tcp'), admin]) {
        try {
          const survey = await withConnection(target, async (session) => {
            const status = await readServerStatus(session);
            const [row] = await session.query<{ started: string }>(
              'select pg_postmaster_start_time()::text as started',
            );
            return { role: status.role, ...(row === undefined ? {} : { startedAt: row.started }) };
          });
          return [node.name, { ...survey, target }];
        } catch (error) {
          errors.push(messageOf(error));
        }
      }
      return [node.name, { error: [...new Set(errors)].join('; ') }];
    }),
  );
  return new Map(entries);
}

/** The connection the survey reached a node with (read-only checks use it). */
export function readTarget(context: DoctorContext, node: NodeConfig): ConnectTarget {
  return (
    context.survey.get(node.name)?.target ??
    heartbeatDbTarget(context.config, node, 'heartbeat', 'tcp')
  );
}

export function nodeWithRole(context: DoctorContext, role: ServerRole): NodeConfig | undefined {
  return context.config.nodes.find((node) => context.survey.get(node.name)?.role === role);
}

export function peerNode(context: DoctorContext, node: NodeConfig): NodeConfig {
  const [first, second] = context.config.nodes;
  return first === node ? second : first;
}

/** A result saying a local check was not run because doctor does not run on a node. */
export function notOnNode(id: string): CheckResult {
  return {
    id,
    scope: 'local',
    status: 'skip',
    found: 'not run: this machine is not a configured node (run skypg doctor on each node)',
  };
}

/** A result for a check about a node whose server the survey could not reach. */
export function unreachable(id: string, node: NodeConfig, context: DoctorContext): CheckResult {
  return {
    id,
    node: node.name,
    scope: 'network',
    status: 'fail',
    found: `cannot check: ${context.survey.get(node.name)?.error ?? 'no connection'}`,
    fix: `start PostgreSQL on ${node.name} or make it reachable, then run doctor again`,
  };
}
