// Virtual IP addresses: who holds one, take it (after checking nobody else answers for it, then
// announcing it by gratuitous ARP), and drop it. Runs `ip` and iputils `arping`, as root, with
// ambient capabilities, or through vip.command_prefix.
import type { ClusterConfig, VipConfig, VipRole } from '../config/types.js';
import { SkypgError } from '../common/errors.js';
import { runProgram, startDetached, type ProgramResult } from '../process/run-program.js';

export interface VipStatus {
  role: VipRole;
  address: string;
  interface: string;
  heldHere: boolean;
  /** MAC addresses of other hosts that answered duplicate address detection. */
  otherHolders: string[];
}

export interface VipChange {
  role: VipRole;
  address: string;
  interface: string;
  /** False when the address was already in the wanted state (idempotent). */
  changed: boolean;
  /** Gratuitous ARP packets started (the first leaves at once). */
  announced: number;
  ms: number;
}

export interface VipOptions {
  force?: boolean;
  /** Run inside this network namespace (tests drive hosts from outside). */
  netns?: string;
  /** Listen this long for another holder instead of vip.dad_timeout (promote, after a fence). */
  dadTimeoutMs?: number;
  /** Skip duplicate address detection: the caller has proof that the only other holder let it
   * go (a switchover's old primary dropped it before it stopped). Saves dad_timeout. */
  knownReleased?: boolean;
}

export function vipConfig(config: ClusterConfig, role: VipRole): VipConfig {
  const vip = config.vip[role];
  if (vip === undefined) {
    throw new SkypgError('USAGE', `vip.${role} is not configured`, {
      hint: `add vip.${role}: { address: ADDR/PREFIX, interface: IFACE } to the configuration`,
    });
  }
  return vip;
}

/** Which VIP a result is about: the fields VipStatus and VipChange start with. */
function identify(
  role: VipRole,
  vip: VipConfig,
): Pick<VipStatus, 'role' | 'address' | 'interface'> {
  return { role, address: vip.address, interface: vip.interface };
}

function addressOnly(vip: VipConfig): string {
  return vip.host;
}

/** The program and its arguments, behind vip.command_prefix when one is configured. */
function commandLine(config: ClusterConfig, program: string, args: string[]): [string, string[]] {
  const [file, ...rest] = [...(config.vip.command_prefix ?? []), program, ...args];
  return [file ?? program, rest];
}

/** The network namespace option of runProgram and startDetached, when one is asked for. */
function inNetns(options: VipOptions): { netns?: string } {
  return options.netns === undefined ? {} : { netns: options.netns };
}

/** Runs ip/arping, with the configured prefix in front. */
async function net(
  config: ClusterConfig,
  program: string,
  args: string[],
  options: VipOptions,
  allowFailure = false,
  timeoutMs = 10_000,
): Promise<ProgramResult> {
  const [file, rest] = commandLine(config, program, args);
  try {
    return await runProgram(file, rest, { allowFailure, timeoutMs, ...inNetns(options) });
  } catch (error) {
    if (
      error instanceof SkypgError &&
      /Operation not permitted|RTNETLINK answers: Operation not permitted|CAP_NET/.test(
        error.message,
      )
    ) {
      throw new SkypgError('REFUSED', `${program} was not permitted: ${error.message}`, {
        hint: 'run as root, give the service CAP_NET_ADMIN and CAP_NET_RAW (AmbientCapabilities), or set vip.command_prefix (docs/operations.md)',
      });
    }
    throw error;
  }
}

const arpingChecked = new Map<string, boolean>();

/** skypg speaks iputils arping; Habets arping has other flags and exit codes. */
async function requireIputilsArping(config: ClusterConfig, options: VipOptions): Promise<void> {
  const key = options.netns ?? '';
  if (arpingChecked.get(key) === true) return;
  const result = await net(config, 'arping', ['-V'], options, true);
  if (!/iputils/i.test(`${result.stdout} ${result.stderr}`)) {
    throw new SkypgError('REFUSED', 'the arping on this host is not the iputils one', {
      hint: 'install iputils-arping (Debian: apt-get install iputils-arping; it replaces the Habets arping package)',
    });
  }
  arpingChecked.set(key, true);
}

async function heldHere(
  config: ClusterConfig,
  vip: VipConfig,
  options: VipOptions,
): Promise<boolean> {
  const result = await net(
    config,
    'ip',
    ['-o', 'addr', 'show', 'dev', vip.interface],
    options,
    true,
  );
  if (result.exitCode !== 0) {
    throw new SkypgError(
      'USAGE',
      `interface ${vip.interface} of vip ${vip.address}: ${result.stderr.trim() || 'not found'}`,
      {
        hint: 'set vip.*.interface to an interface of this host (ip link)',
      },
    );
  }
  const address = addressOnly(vip);
  return result.stdout.split('\n').some((line) => line.includes(` ${address}/`));
}

/** Is the VIP of this role on this host? (false when that VIP is not configured) */
export async function vipHeldHere(config: ClusterConfig, role: VipRole): Promise<boolean> {
  const vip = config.vip[role];
  return vip === undefined ? false : heldHere(config, vip, {});
}

/** Duplicate address detection: MACs of other hosts answering for the address. */
async function otherHolders(
  config: ClusterConfig,
  vip: VipConfig,
  options: VipOptions,
): Promise<string[]> {
  await requireIputilsArping(config, options);
  // arping -D exits at the first reply, but its deadline is whole seconds: a shorter listen
  // stops it at the deadline, which then means that nobody answered in time.
  const listenMs = options.dadTimeoutMs ?? config.vip.dad_timeout;
  const seconds = String(Math.max(1, Math.ceil(listenMs / 1000)));
  const result = await net(
    config,
    'arping',
    ['-D', '-c', '1', '-w', seconds, '-I', vip.interface, addressOnly(vip)],
    options,
    true,
    listenMs < 1000 * Number(seconds) ? listenMs : 10_000,
  );
  if (result.timedOut) return [];
  return [...result.stdout.matchAll(/reply from \S+ \[([0-9A-Fa-f:]+)\]/g)].map((match) =>
    (match[1] ?? '').toLowerCase(),
  );
}

/** Every VIP operation: on one of the configured VIPs, here or in options.netns. */
type VipOperation<Result> = (
  config: ClusterConfig,
  role: VipRole,
  options?: VipOptions,
) => Promise<Result>;

export const vipStatus: VipOperation<VipStatus> = async (config, role, options = {}) => {
  const vip = vipConfig(config, role);
  const [here, others] = await Promise.all([
    heldHere(config, vip, options),
    otherHolders(config, vip, options),
  ]);
  return { ...identify(role, vip), heldHere: here, otherHolders: others };
};

/**
 * Takes the address: refuses if another host answers for it (unless force), adds it, and
 * starts the gratuitous ARP announcements. Idempotent: an address held here is re-announced.
 */
export const vipUp: VipOperation<VipChange> = (config, role, options = {}) =>
  changeVip(config, role, options, async (vip, held) => {
    if (!held) {
      const others = options.knownReleased === true ? [] : await otherHolders(config, vip, options);
      if (others.length > 0 && options.force !== true) {
        throw new SkypgError(
          'REFUSED',
          `another host (${others.join(', ')}) answers for ${vip.address}; not taking it`,
          {
            hint: `take it from that host first ('skypg vip down ${role}' there); --force takes it anyway and may cause an address conflict`,
          },
        );
      }
      const label = vip.label === undefined ? [] : ['label', vip.label];
      await net(
        config,
        'ip',
        ['addr', 'add', vip.address, 'dev', vip.interface, ...label],
        options,
      );
    }
    await announce(config, vip, options);
    return { changed: !held, announced: config.vip.announce.count };
  });

/**
 * The announcer: one gratuitous ARP at a time, each only while the address is still here, so
 * that `vip down` (from any process, or through the sudo wrapper as root) ends the
 * announcements by dropping the address. A single `arping -c COUNT` would go on announcing a
 * VIP that moved, and point clients back at this host for up to a second each time. iputils
 * arping waits one interval after its last packet, which spaces the announcements. Arguments:
 * count, interval, interface, address, then vip.command_prefix (may be empty).
 */
const announcerScript = [
  'count=$1 interval=$2 iface=$3 address=$4',
  'shift 4',
  'sent=0',
  'while [ "$sent" -lt "$count" ]; do',
  '  "$@" ip -o addr show dev "$iface" | grep -qF " $address/" || exit 0',
  '  "$@" arping -U -c 1 -i "$interval" -I "$iface" "$address" >/dev/null 2>&1 || exit 0',
  '  sent=$((sent + 1))',
  'done',
].join('\n');

async function announce(config: ClusterConfig, vip: VipConfig, options: VipOptions): Promise<void> {
  await requireIputilsArping(config, options);
  const args = [
    String(config.vip.announce.count),
    String(config.vip.announce.intervalSeconds),
    vip.interface,
    addressOnly(vip),
    ...(config.vip.command_prefix ?? []),
  ];
  await startDetached('sh', ['-c', announcerScript, 'skypg-announce', ...args], inNetns(options));
}

/** Drops the address if held here; idempotent. */
export const vipDown: VipOperation<VipChange> = (config, role, options = {}) =>
  changeVip(config, role, options, async (vip, held) => {
    if (held) await net(config, 'ip', ['addr', 'del', vip.address, 'dev', vip.interface], options);
    return { changed: held, announced: 0 };
  });

/** Looks whether the address is held here, lets `change` act on that, and times the whole. */
async function changeVip(
  config: ClusterConfig,
  role: VipRole,
  options: VipOptions,
  change: (vip: VipConfig, held: boolean) => Promise<Pick<VipChange, 'changed' | 'announced'>>,
): Promise<VipChange> {
  const vip = vipConfig(config, role);
  const started = performance.now();
  const held = await heldHere(config, vip, options);
  const outcome = await change(vip, held);
  return { ...identify(role, vip), ...outcome, ms: Math.round(performance.now() - started) };
}
