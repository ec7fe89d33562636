// Background trouble for the multi-host lab, the kind a healthy pair must ride out without a
// failover: CPU hogs inside a host's namespace, random packet loss on the hosts' links, and a
// process paused for a moment. Hard faults (a dead host, a pulled cable) are in netns-faults.ts
// and netns-network.ts.
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { SkypgError } from '../common/errors.js';
import { runProgram } from '../process/run-program.js';
import type { LabHostName, NetnsLabState } from './netns-plan.js';
import { processState, signalAll, waitFor } from './netns-process.js';

/** Our nft table in the switch namespace, apart from heal()'s so neither deletes the other's. */
export const lossTable = 'skypg_chaos';

/** The unprivileged account the hogs run as: they compete for the CPU, nothing more. */
const hogUid = 65534;

/**
 * Starts `count` busy loops in the host's namespace as `nobody`; returns their PIDs. `ip netns
 * exec` and setpriv both exec, so the spawned PID is the shell running the loop itself.
 */
export async function startCpuHogs(
  state: NetnsLabState,
  host: LabHostName,
  count: number,
): Promise<number[]> {
  const pids: number[] = [];
  for (let index = 0; index < count; index += 1) {
    const child = spawn(
      'ip',
      [
        'netns',
        'exec',
        state.netns[host],
        'setpriv',
        `--reuid=${hogUid}`,
        `--regid=${hogUid}`,
        '--clear-groups',
        '--',
        'sh',
        '-c',
        'while :; do :; done',
      ],
      { detached: true, stdio: 'ignore' },
    );
    child.unref();
    if (child.pid === undefined) {
      signalAll(pids, 'SIGKILL');
      throw new SkypgError('LAB_FAILED', `could not start a CPU hog on ${host}`);
    }
    pids.push(child.pid);
  }
  // Kill-by-PID is only safe once the PID is the loop (not ip or setpriv still setting up).
  try {
    await waitFor(`the CPU hogs on ${host} to run as uid ${hogUid}`, 5000, async () => {
      const owners = await Promise.all(pids.map(realUid));
      return owners.every((uid) => uid === hogUid);
    });
  } catch (error) {
    signalAll(pids, 'SIGKILL');
    throw error;
  }
  return pids;
}

async function realUid(pid: number): Promise<number | undefined> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const uid = /^Uid:\s+(\d+)/m.exec(status)?.[1];
  return uid === undefined ? undefined : Number(uid);
}

/** SIGKILLs the hogs by PID and waits until they are gone. */
export async function stopCpuHogs(pids: number[]): Promise<void> {
  signalAll(pids, 'SIGKILL');
  await waitFor('the CPU hogs to exit', 5000, async () => {
    const states = await Promise.all(pids.map(processState));
    return states.every((current) => current === 'gone');
  });
}

/** The nft script of the loss table: each host's link drops `percent` % of frames each way. */
export function lossTableScript(percent: number, hosts: readonly LabHostName[]): string {
  if (!Number.isInteger(percent) || percent < 0 || percent > 100)
    throw new SkypgError('LAB_FAILED', `packet loss must be a whole percentage, not ${percent}`);
  const lines = [
    `table bridge ${lossTable} {`,
    ...hosts.flatMap((host) => [`  counter seen_${host} { }`, `  counter dropped_${host} { }`]),
    // Before the partition chain (-10): a frame dropped here is lost on the wire, not cut.
    '  chain lossy { type filter hook forward priority -20; policy accept; }',
    '}',
  ];
  // nft takes `< 100` as out of range for `mod 100`: all frames is no draw at all.
  const draw = percent === 100 ? '' : `numgen random mod 100 < ${percent} `;
  // One rule per direction: a frame between the hosts crosses both links and may be lost on
  // either, as on a real network where each link has its own loss.
  for (const host of hosts) {
    for (const side of ['iifname', 'oifname']) {
      lines.push(
        `add rule bridge ${lossTable} lossy ${side} "v-${host}" counter name "seen_${host}" ${draw}counter name "dropped_${host}" drop`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

/** Frames that crossed a host's link (both ways) and how many of them were dropped. */
export interface LinkLoss {
  seen: number;
  dropped: number;
}

/** Reads the loss table's counters from `nft -j list counters` output. */
export function parseLossCounters(
  json: string,
  hosts: readonly LabHostName[],
): Record<string, LinkLoss> {
  const parsed = JSON.parse(json) as {
    nftables?: { counter?: { name?: string; table?: string; packets?: number } }[];
  };
  const packets = new Map<string, number>();
  for (const entry of parsed.nftables ?? []) {
    const { counter } = entry;
    if (counter?.table !== lossTable || counter.name === undefined) continue;
    packets.set(counter.name, counter.packets ?? 0);
  }
  const loss: Record<string, LinkLoss> = {};
  for (const host of hosts) {
    const seen = packets.get(`seen_${host}`);
    const dropped = packets.get(`dropped_${host}`);
    if (seen === undefined || dropped === undefined)
      throw new SkypgError('LAB_FAILED', `the ${lossTable} table has no counters for ${host}`);
    loss[host] = { seen, dropped };
  }
  return loss;
}

const lossHosts: readonly LabHostName[] = ['host1', 'host2'];

export async function startPacketLoss(state: NetnsLabState, percent: number): Promise<void> {
  await runProgram('nft', ['-f', '-'], {
    netns: state.netns.lan,
    input: lossTableScript(percent, lossHosts),
    timeoutMs: 10_000,
  });
}

export async function readPacketLoss(state: NetnsLabState): Promise<Record<string, LinkLoss>> {
  const listed = await runProgram('nft', ['-j', 'list', 'counters', 'table', 'bridge', lossTable], {
    netns: state.netns.lan,
    timeoutMs: 10_000,
  });
  return parseLossCounters(listed.stdout, lossHosts);
}

/** Deletes the loss table and nothing else (declared first, so a second call is harmless). */
export async function stopPacketLoss(state: NetnsLabState): Promise<void> {
  await runProgram('nft', ['-f', '-'], {
    netns: state.netns.lan,
    input: `table bridge ${lossTable}\ndelete table bridge ${lossTable}\n`,
    timeoutMs: 10_000,
  });
}

/**
 * SIGSTOPs `pid` for `ms`, then SIGCONTs it (also when the wait is cut short); returns how long
 * it was stopped by our clock, which is what the process lost.
 */
export async function pauseProcess(pid: number, ms: number): Promise<number> {
  const stoppedAt = performance.now();
  process.kill(pid, 'SIGSTOP');
  try {
    // A timer counts from the event loop's cached clock, which may lag the real one by a
    // fraction of a millisecond: it can fire that much early, so sleep out any remainder.
    for (let left = ms; left > 0; left = ms - (performance.now() - stoppedAt)) await sleep(left);
  } finally {
    signalAll([pid], 'SIGCONT');
  }
  return performance.now() - stoppedAt;
}
