// The multi-host lab's network: the namespaces and the switch joining them, and the network
// faults (a pulled cable, a partition at the switch) with their repairs.
import { runProgram, type ProgramResult, type RunOptions } from '../process/run-program.js';
import {
  faultTable,
  labAddresses,
  labMembers,
  prefixLength,
  primaryVipAddress,
  writeNetnsLabState,
  type LabHostName,
  type LabMember,
  type LabNamespaceKey,
  type NetnsLabState,
} from './netns-plan.js';

/** The namespaces, the switch (br0 in lan) and every member's cable and address. */
export async function buildNetwork(state: NetnsLabState): Promise<void> {
  for (const [index, name] of state.namespaces.entries()) {
    const made = await runProgram('ip', ['netns', 'add', name], { allowFailure: true });
    if (made.exitCode !== 0) {
      // Not ours (another lab took the name after we looked): never let teardown touch it.
      state.namespaces = state.namespaces.slice(0, index);
      await writeNetnsLabState(state);
      throw new Error(`ip netns add ${name} failed: ${made.stderr.trim() || 'no output'}`);
    }
  }
  // Each veth is made inside lan with its peer created directly in the member's namespace,
  // so no end ever appears in the root namespace. STP is off: ports forward at once.
  const lanCommands = ['link set lo up', 'link add br0 type bridge stp_state 0', 'link set br0 up'];
  for (const member of labMembers) {
    lanCommands.push(
      `link add v-${member} type veth peer name eth0 netns ${state.netns[member]}`,
      `link set v-${member} master br0`,
      `link set v-${member} up`,
    );
  }
  await ipBatch(state.netns.lan, lanCommands);
  await Promise.all(
    labMembers.map((member) =>
      ipBatch(state.netns[member], [
        'link set lo up',
        `addr add ${labAddresses[member]}/${prefixLength} dev eth0`,
        'link set eth0 up',
      ]),
    ),
  );
}

export async function ipBatch(netns: string, commands: string[]): Promise<void> {
  await runProgram('ip', ['-n', netns, '-batch', '-'], {
    input: `${commands.join('\n')}\n`,
    timeoutMs: 10_000,
  });
}

/** Runs a program inside a lab machine's namespace (as root unless `asUser` says otherwise). */
export function execIn(
  state: NetnsLabState,
  member: LabNamespaceKey,
  file: string,
  args: string[],
  options: Omit<RunOptions, 'netns'> = {},
): Promise<ProgramResult> {
  return runProgram(file, args, { timeoutMs: 30_000, ...options, netns: state.netns[member] });
}

/** Pulls the member's cable at the switch: it sees NO-CARRIER, nobody reaches it. */
export async function linkDown(state: NetnsLabState, member: LabMember): Promise<void> {
  await ipBatch(state.netns.lan, [`link set v-${member} down`]);
}

export async function linkUp(state: NetnsLabState, member: LabMember): Promise<void> {
  await ipBatch(state.netns.lan, [`link set v-${member} up`]);
}

/**
 * Drops frames between two members at the switch (a bridge-family nft table in lan, ARP
 * included). `oneWay`: only frames from `a` to `b`. Calls add up; heal() removes them all.
 */
export async function partition(
  state: NetnsLabState,
  a: LabMember,
  b: LabMember,
  options: { oneWay?: boolean } = {},
): Promise<void> {
  const rule = (from: LabMember, to: LabMember): string =>
    `add rule bridge ${faultTable} cut iifname "v-${from}" oifname "v-${to}" drop`;
  const script = [
    `table bridge ${faultTable} {`,
    '  chain cut { type filter hook forward priority -10; policy accept; }',
    '}',
    rule(a, b),
    ...(options.oneWay === true ? [] : [rule(b, a)]),
    '',
  ].join('\n');
  await runProgram('nft', ['-f', '-'], {
    netns: state.netns.lan,
    input: script,
    timeoutMs: 10_000,
  });
}

/** Removes every partition (only our table: declaring it first makes the delete idempotent). */
export async function heal(state: NetnsLabState): Promise<void> {
  await runProgram('nft', ['-f', '-'], {
    netns: state.netns.lan,
    input: `table bridge ${faultTable}\ndelete table bridge ${faultTable}\n`,
    timeoutMs: 10_000,
  });
}

/** Whether the host has `address` (default: the primary VIP) on its LAN interface. */
export async function holdsAddress(
  state: NetnsLabState,
  host: LabHostName,
  address = primaryVipAddress,
): Promise<boolean> {
  const shown = await execIn(state, host, 'ip', ['-o', 'addr', 'show', 'dev', 'eth0'], {
    allowFailure: true,
  });
  return shown.stdout.includes(` ${address}/`);
}
