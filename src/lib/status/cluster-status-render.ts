// The status table for a person: colored on a terminal, plain when piped.
import { formatSize } from '../config/units.js';
import type { ClusterStatus, NodeRow } from './cluster-status.js';

export interface Painter {
  good(text: string): string;
  warn(text: string): string;
  bad(text: string): string;
  dim(text: string): string;
}

export const plainPainter: Painter = {
  good: (t) => t,
  warn: (t) => t,
  bad: (t) => t,
  dim: (t) => t,
};

export function renderClusterStatus(
  status: ClusterStatus,
  paint: Painter = plainPainter,
): string[] {
  const header = ['NODE', 'ADDRESS', 'ROLE', 'TL', 'LSN', 'LAG', 'HEARTBEAT', 'VIPS', 'SUPERVISOR'];
  const rows = status.nodes.map((node) => cells(node));
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (
    values: string[],
    color?: (node: NodeRow, column: number, text: string) => string,
    node?: NodeRow,
  ): string =>
    values
      .map((value, column) => {
        const padded = value.padEnd(widths[column] ?? value.length);
        return color && node ? color(node, column, padded) : padded;
      })
      .join('  ')
      .trimEnd();
  const color = (node: NodeRow, column: number, text: string): string => {
    if (column !== 2) return text;
    if (!node.reachable) return paint.bad(text);
    return node.role === 'primary' ? paint.good(text) : paint.warn(text);
  };
  const out = [`cluster ${status.cluster}  (${status.checkedAt})`, line(header)];
  status.nodes.forEach((node, index) => out.push(line(rows[index] ?? [], color, node)));
  for (const node of status.nodes) {
    if (!node.reachable) out.push(paint.bad(`  ${node.name}: ${node.error ?? 'unreachable'}`));
    if (node.supervisor?.state === 'fence-failed')
      out.push(paint.bad(`  ${node.name}: failover blocked: ${node.supervisor.reason}`));
  }
  for (const vip of status.vips) {
    if (vip.holder === undefined)
      out.push(
        paint.warn(
          `  vip ${vip.role} ${vip.address}: nobody answers${vip.error ? ` (${vip.error})` : ''}`,
        ),
      );
  }
  return out;
}

function cells(node: NodeRow): string[] {
  const role = node.reachable ? (node.role ?? '?') : 'DOWN';
  const lag =
    node.role !== 'standby'
      ? '-'
      : `${node.lagBytes === undefined ? '?' : formatSize(node.lagBytes)}${node.lagSeconds === undefined ? '' : ` ${node.lagSeconds}s`}${node.receiver !== undefined && node.receiver !== 'streaming' ? ` (${node.receiver})` : ''}`;
  const supervisor = node.supervisor
    ? `${node.supervisor.running ? node.supervisor.state : 'not running'}${node.supervisor.paused ? ' (paused)' : ''}`
    : '-';
  return [
    node.name,
    `${node.address}:${node.port}`,
    role,
    node.timeline === undefined ? '-' : String(node.timeline),
    node.lsn ?? '-',
    lag,
    node.heartbeatAgeSeconds === undefined ? '-' : `${node.heartbeatAgeSeconds}s ago`,
    node.vips.length === 0 ? '-' : node.vips.join(','),
    supervisor,
  ];
}
