// `skypg lab status` is `skypg status` for the lab's configuration.
import { readClusterStatus, type ClusterStatus } from '../status/cluster-status.js';
import { renderClusterStatus } from '../status/cluster-status-render.js';
import { loadConfigFile } from '../config/load.js';
import { readLabState } from './loopback-pair.js';

export interface LabStatus extends ClusterStatus {
  dir: string;
  configPath: string;
}

export async function readLabStatus(dir: string, timeoutMs = 2000): Promise<LabStatus> {
  const state = await readLabState(dir);
  const { config } = await loadConfigFile(state.configPath);
  const status = await readClusterStatus(config, timeoutMs);
  return { ...status, dir: state.dir, configPath: state.configPath };
}

export function renderLabStatus(status: LabStatus): string[] {
  return [`lab ${status.dir} (SKYPG_CONFIG=${status.configPath})`, ...renderClusterStatus(status)];
}
