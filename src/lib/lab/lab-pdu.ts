// The multi-host lab's switched PDU: a second fence level per host that does not depend on the
// host's BMC, so a blackout (host and BMC gone together) can still be fenced. It is a script
// with the fence-agent contract, driven by `agent: command` (outlet chosen by `options`), whose
// outlets feed the hosts: cutting one powers the host off exactly as its BMC does (the
// chassis hook: every process killed, the switch port pulled).
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../fs/atomic-write.js';
import { runProgram } from '../process/run-program.js';

export interface PduOutlet {
  /** The outlet's name, as `options: { outlet: NAME }` gives it (the host's name). */
  outlet: string;
  /** The host's chassis power switch (netns-lab.ts chassisHook). */
  chassisHook: string;
}

export function pduFenceCommand(pduDir: string): string {
  return join(pduDir, 'pdu-fence');
}

function outletFile(pduDir: string, outlet: string): string {
  return join(pduDir, `outlet-${outlet}`);
}

export async function installPduScript(pduDir: string, outlets: PduOutlet[]): Promise<void> {
  await mkdir(pduDir, { recursive: true, mode: 0o700 });
  for (const { outlet } of outlets) await writeFileAtomic(outletFile(pduDir, outlet), '1\n');
  await writeFileAtomic(pduFenceCommand(pduDir), pduScript(pduDir, outlets), 0o700);
}

/** Whether the PDU feeds the outlet (undefined: this lab has no PDU). */
export async function outletOn(pduDir: string, outlet: string): Promise<boolean | undefined> {
  const result = await runProgram(pduFenceCommand(pduDir), [], {
    input: `action=status\noutlet=${outlet}\n`,
    allowFailure: true,
    timeoutMs: 10_000,
  });
  if (result.exitCode === 0) return true;
  if (result.exitCode === 2) return false;
  return undefined;
}

/** Switches the outlet on (the host boots, as from its BMC). */
export async function switchOutletOn(pduDir: string, outlet: string): Promise<void> {
  await runProgram(pduFenceCommand(pduDir), [], {
    input: `action=on\noutlet=${outlet}\n`,
    timeoutMs: 20_000,
  });
}

function pduScript(pduDir: string, outlets: PduOutlet[]): string {
  const cases = outlets
    .map(({ outlet, chassisHook }) => `  ${outlet}) chassis=${chassisHook} ;;`)
    .join('\n');
  return `#!/bin/bash
# skypg netns lab: a simulated switched PDU with the fence-agent contract: name=value lines on
# stdin (action=, outlet=, others ignored); status exits 0 = ON, 2 = OFF; off/on exit 0 = done.
PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH
dir=${pduDir}
action='' outlet=''
while IFS= read -r line; do
  case $line in
    action=*) action=\${line#action=} ;;
    outlet=*) outlet=\${line#outlet=} ;;
  esac
done
case $outlet in
${cases}
  *) echo "this PDU has no outlet '$outlet'" >&2; exit 1 ;;
esac
state=$dir/outlet-$outlet
echo "$(date +%T.%N) $action $outlet" >>"$dir/pdu.log"
case $action in
  status | monitor)
    if [ "$(cat "$state" 2>/dev/null || echo 1)" = 1 ]; then echo "Status: ON"; exit 0; fi
    echo "Status: OFF"; exit 2 ;;
  off)
    "$chassis" set power 0 >>"$dir/pdu.log" 2>&1 || { echo "outlet $outlet: power-off failed" >&2; exit 1; }
    echo 0 >"$state"; echo "Success: Powered OFF" ;;
  on)
    echo 1 >"$state"
    "$chassis" set power 1 >>"$dir/pdu.log" 2>&1 || { echo "outlet $outlet: power-on failed" >&2; exit 1; }
    echo "Success: Powered ON" ;;
  *) echo "this PDU cannot '$action'" >&2; exit 1 ;;
esac
exit 0
`;
}
