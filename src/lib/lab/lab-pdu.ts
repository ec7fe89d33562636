// The multi-host lab's switched PDU: a second fence level per host that does not depend on the
// host's BMC, so a blackout (host and BMC gone together) can still be fenced. It is a script
// with the fence-agent contract, driven by `agent: command` (outlet chosen by `options`), whose
// outlets feed the hosts: cutting one powers the host off exactly as its BMC does (the
// chassis hook: every process killed, the switch port pulled).
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../fs/atomic-write.js';
import { runProgram } from '../process/run-program.js';
import { labScriptLauncher } from './lab-scripts.js';

export interface PduOutlet {
  /** The outlet's name, as `options: { outlet: NAME }` gives it (the host's name). */
  outlet: string;
  /** The host's chassis power switch (netns-bmc.ts chassisHook: sh/chassis-control.sh). */
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

/** A launcher of sh/pdu-fence.sh with this PDU's directory and the hook each outlet feeds. */
function pduScript(pduDir: string, outlets: PduOutlet[]): string {
  return labScriptLauncher(
    'skypg netns lab: the simulated switched PDU (sh/pdu-fence.sh), its outlets feeding the hosts.',
    'pdu-fence.sh',
    { args: [pduDir, ...outlets.map(({ outlet, chassisHook }) => `${outlet}=${chassisHook}`)] },
  );
}
