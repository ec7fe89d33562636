// Which configured node is "this machine".
import { networkInterfaces } from 'node:os';
import { SkypgError } from '../common/errors.js';
import { didYouMean } from './suggest.js';
import type { ClusterConfig, NodeConfig } from './types.js';
import { nonEmpty } from '../common/env.js';

/** --node, else $SKYPG_NODE, else the node whose address this host holds. */
export function resolveLocalNode(config: ClusterConfig, flag: string | undefined): string {
  const named = flag ?? nonEmpty(process.env['SKYPG_NODE']);
  if (named !== undefined) return findNode(config, named).name;
  const local = localAddresses();
  const matches = config.nodes.filter((node) => local.has(node.address));
  if (matches.length === 1 && matches[0]) return matches[0].name;
  const names = config.nodes.map((node) => node.name).join(' or ');
  const why =
    matches.length === 0
      ? 'none of the configured node addresses is an address of this host'
      : 'both configured node addresses are addresses of this host';
  throw new SkypgError('NODE_UNRESOLVED', `cannot tell which node this is: ${why}`, {
    hint: `pass --node ${names} or set SKYPG_NODE`,
  });
}

export function findNode(config: ClusterConfig, name: string): NodeConfig {
  const node = config.nodes.find((candidate) => candidate.name === name);
  if (node) return node;
  const names = config.nodes.map((candidate) => candidate.name);
  throw new SkypgError(
    'NODE_UNKNOWN',
    `no node named "${name}" in the configuration${didYouMean(name, names)}`,
    {
      hint: `configured nodes: ${names.join(', ')}`,
    },
  );
}

export function peerOf(config: ClusterConfig, name: string): NodeConfig {
  const node = findNode(config, name);
  return config.nodes[0] === node ? config.nodes[1] : config.nodes[0];
}

function localAddresses(): Set<string> {
  const addresses = new Set<string>();
  for (const list of Object.values(networkInterfaces())) {
    for (const entry of list ?? []) addresses.add(entry.address);
  }
  return addresses;
}
