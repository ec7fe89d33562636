// The skypg configuration of a multi-host lab: both nodes with their BMC (and PDU) fence
// levels, the VIPs and the gateway; for the example shape, the shipped example with its paths.
import { pduFenceCommand } from './lab-pdu.js';
import { exampleWithPaths, type ExampleHostPaths } from './lab-shapes.js';
import * as labSupport from './lab-support.js';
import {
  fenceUser,
  labAddresses,
  labVips,
  pgPort,
  type NetnsLabHost,
  type NetnsLabState,
} from './netns-plan.js';

/** The skypg configuration of the lab's pair (for the example shape: the example, with paths). */
export function labConfig(state: NetnsLabState): string {
  if (state.shape === 'example') {
    const [host1, host2] = state.hosts;
    const paths = (host: NetnsLabHost): ExampleHostPaths => ({
      dataDir: host.dataDir,
      socketDir: host.socketDir,
      fencePasswordFile: host.bmc.passwordFile,
    });
    return exampleWithPaths({
      binDir: state.binDir,
      stateDir: state.dir,
      hosts: [paths(host1), paths(host2)],
    });
  }
  return ownLabConfig(state);
}

function ownLabConfig(state: NetnsLabState): string {
  // ipmitool reads the password file itself: the password is on no command line.
  const pduLevel = (host: NetnsLabHost): string =>
    state.fenceLevels === 2 && state.pduDir !== undefined
      ? `      - name: pdu
        agent: command
        command: ${pduFenceCommand(state.pduDir)}
        options: { outlet: ${host.name} }
`
      : '';
  const node = (host: NetnsLabHost): string => `  - name: ${host.name}
    address: ${host.address}
    data_dir: ${host.dataDir}
    postgres: { ${nodePostgresKeys(state, host)} }
    fence:
      - name: ipmi
        agent: ipmitool
        ip: ${host.bmc.address}
        username: ${fenceUser}
        password_file: ${host.bmc.passwordFile}
        options: { lanplus: 1, cipher: 3 }
${pduLevel(host)}`;
  const [host1, host2] = state.hosts;
  return `# skypg netns lab ${state.id}, made at ${state.createdAt}.
# Each host is a network namespace (${host1.netns}, ${host2.netns}); BMCs are ipmi_sim.
cluster: lab-${state.id}
postgres:
  bin_dir: ${state.binDir}
  os_user: ${state.osUser}
  port: ${pgPort}
  superuser: postgres
${state.shape === 'by-hand' ? '' : `  passfile: ${state.passfile}\n`}nodes:
${node(host1)}${node(host2)}vip:
  primary: { address: ${labVips.primary}, interface: eth0 }
  standby: { address: ${labVips.standby}, interface: eth0 }
gateway: [${labAddresses.gw}]
${labSupport.clusterSettingsYaml(state.dir, 'required', state.shape === 'by-hand' ? '{node}' : undefined)}`;
}

/** A node's own postgres keys: its socket, and what its shape adds or leaves out. */
function nodePostgresKeys(state: NetnsLabState, host: NetnsLabHost): string {
  const keys = [`socket_dir: ${host.socketDir}`];
  // By hand, the server logs through logging_collector; pg_ctl's own lines go to the default.
  if (state.shape !== 'by-hand') keys.push(`log_file: ${host.logFile}`);
  if (host.configDir !== undefined) keys.push(`config_dir: ${host.configDir}`);
  return keys.join(', ');
}
