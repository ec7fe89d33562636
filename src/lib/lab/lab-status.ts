// The lab's nodes as seen through their own sockets, for `skypg lab status`.
import { loadConfigFile } from '../config/load.js';
import { localTarget } from '../pg/connect.js';
import { readNodeStatus, type NodeStatus } from '../node-status.js';
import { readLabState } from './loopback-pair.js';

export interface LabStatus {
  dir: string;
  configPath: string;
  nodes: NodeStatus[];
}

export async function readLabStatus(dir: string): Promise<LabStatus> {
  const state = await readLabState(dir);
  const { config } = await loadConfigFile(state.configPath);
  const nodes = await Promise.all(
    config.nodes.map((node) => readNodeStatus(node, localTarget(node))),
  );
  return { dir: state.dir, configPath: state.configPath, nodes };
}

export function renderLabStatus(status: LabStatus): string[] {
  const lines = [`lab ${status.dir} (config ${status.configPath})`];
  for (const node of status.nodes) {
    if (!node.reachable) {
      lines.push(`  ${node.name}  127.0.0.1:${node.port}  DOWN  ${node.error ?? ''}`);
      continue;
    }
    const replication =
      node.role === 'primary'
        ? node.replication.map((row) => `${row.applicationName} ${row.state}`).join(', ') ||
          'no standby connected'
        : node.walReceiver
          ? `wal receiver ${node.walReceiver.status}`
          : 'no wal receiver';
    lines.push(
      `  ${node.name}  127.0.0.1:${node.port}  ${node.role ?? '?'}  timeline ${String(node.timeline)}  lsn ${node.lsn ?? '-'}  ${replication}`,
    );
  }
  return lines;
}
