// skypg doctor: every check that applies, run concurrently (each bounded by a timeout), then
// with --fix the safe online repairs, shown before they are made, and a second run.
import { checkBootStart, checkSlots } from './shape-checks.js';
import type { ClusterConfig, NodeConfig } from '../config/types.js';
import { messageOf } from '../common/errors.js';
import type { CheckResult, FixAction } from './checklist.js';
import {
  checkAcpi,
  checkDataDir,
  checkFencePasswordFiles,
  checkFreeSpace,
  checkGateway,
  checkNetTools,
  checkPassfile,
  checkStateDir,
  checkSystemd,
} from './host-checks.js';
import {
  checkClocks,
  checkHba,
  checkLogin,
  checkRoles,
  checkSettings,
  loginTests,
} from './pg-checks.js';
import {
  checkApi,
  checkFence,
  checkLayout,
  checkSupervisor,
  checkSupervisorIdentity,
  checkVip,
  type SupervisorCheck,
} from './cluster-checks.js';
import { notOnNode, surveyNodes, type DoctorContext } from './context.js';

export interface DoctorOptions {
  config: ClusterConfig;
  /** Configuration warnings from loading it (safety given up). */
  configWarnings: string[];
  configPath: string;
  local: NodeConfig | undefined;
  version: string;
  fix: boolean;
  /** Progress lines (the fixes, before and after each is made); the library never prints. */
  onProgress?: (line: string) => void;
}

export interface AppliedFix {
  action: string;
  result: 'applied' | 'failed';
  note?: string;
}

export interface DoctorReport {
  node: string | undefined;
  results: CheckResult[];
  fixes: AppliedFix[];
}

const checkTimeoutMs = 15_000;

/** Rejects when `work` has not settled within the timeout. */
async function withinTimeout<T>(work: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`did not finish within ${timeoutMs / 1000}s`));
    }, timeoutMs);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs one check within its timeout; a throw or a timeout is a FAIL of that check. */
async function bounded(
  id: string,
  node: string | undefined,
  scope: CheckResult['scope'],
  timeoutMs: number,
  check: () => Promise<CheckResult | CheckResult[]>,
): Promise<CheckResult[]> {
  try {
    const result = await withinTimeout(check(), timeoutMs);
    return Array.isArray(result) ? result : [result];
  } catch (error) {
    return [
      {
        id,
        ...(node === undefined ? {} : { node }),
        scope,
        status: 'fail',
        found: messageOf(error),
      },
    ];
  }
}

export async function runChecks(options: DoctorOptions): Promise<CheckResult[]> {
  const { config, local } = options;
  const context: DoctorContext = {
    config,
    local,
    version: options.version,
    survey: await surveyNodes(config, local),
  };
  const configResult: CheckResult = {
    id: 'config',
    scope: 'network',
    status: options.configWarnings.length === 0 ? 'ok' : 'warn',
    found:
      options.configWarnings.length === 0
        ? `${options.configPath} is valid`
        : `${options.configPath} is valid but gives up safety: ${options.configWarnings.map((w) => w.replace(/^warning: /, '')).join('; ')}`,
    ...(options.configWarnings.length === 0
      ? {}
      : { fix: 'skypg config check   # shows each warning with its line' }),
  };
  const localCheck = (
    id: string,
    check: (node: NodeConfig) => Promise<CheckResult>,
  ): Promise<CheckResult[]> =>
    local === undefined
      ? Promise.resolve([notOnNode(id)])
      : bounded(id, local.name, 'local', checkTimeoutMs, () => check(local));
  const perNode = (id: string, check: (node: NodeConfig) => Promise<CheckResult>) =>
    config.nodes.map((node) =>
      bounded(id, node.name, 'network', checkTimeoutMs, () => check(node)),
    );
  // The identity and layout checks compare what both supervisors recorded.
  const supervisorResults = Promise.all(
    config.nodes.map((node) =>
      withinTimeout(checkSupervisor(context, node), checkTimeoutMs).catch(
        (error: unknown): SupervisorCheck => ({
          result: {
            id: 'supervisor',
            node: node.name,
            scope: node === local ? 'local' : 'network',
            status: 'fail',
            found: messageOf(error),
          },
        }),
      ),
    ),
  );
  const groups = await Promise.all([
    Promise.resolve([configResult]),
    ...perNode('settings', (node) => checkSettings(context, node)),
    ...perNode('hba', (node) => checkHba(context, node)),
    bounded('roles', undefined, 'network', checkTimeoutMs, () => checkRoles(context)),
    ...loginTests(context).map((test) =>
      bounded('login', test.node, 'network', checkTimeoutMs, () => checkLogin(test)),
    ),
    localCheck('passfile', (node) => checkPassfile(context, node)),
    localCheck('fence-password-files', (node) => checkFencePasswordFiles(config, node)),
    bounded('clock', undefined, 'network', checkTimeoutMs, () => checkClocks(context)),
    localCheck('net-tools', (node) => checkNetTools(config, node)),
    localCheck('gateway', (node) => checkGateway(config, node)),
    localCheck('acpi', (node) => checkAcpi(node)),
    localCheck('systemd', (node) => checkSystemd(node)),
    localCheck('disk', (node) => checkFreeSpace(context, node)),
    localCheck('data-dir', (node) => checkDataDir(node)),
    localCheck('state-dir', (node) => checkStateDir(config, node)),
    localCheck('slots', (node) => checkSlots(config, node)),
    localCheck('boot-start', (node) => checkBootStart(config, node)),
    ...config.nodes.map((node) =>
      bounded('fence', node.name, 'network', fenceCheckBudget(node) + checkTimeoutMs, () =>
        checkFence(context, node),
      ),
    ),
    bounded('vip-primary', undefined, 'network', checkTimeoutMs, () =>
      checkVip(context, 'primary'),
    ),
    bounded('vip-standby', undefined, 'network', checkTimeoutMs, () =>
      checkVip(context, 'standby'),
    ),
    supervisorResults.then((checks) => checks.map((check) => check.result)),
    ...perNode('api', (node) => checkApi(context, node)),
    supervisorResults.then((checks) => [
      checkSupervisorIdentity(
        context,
        checks.map((check) => check.state),
      ),
    ]),
    supervisorResults.then((checks) =>
      bounded('layout', undefined, 'network', checkTimeoutMs, () =>
        checkLayout(
          context,
          checks.map((check) => check.state),
        ),
      ),
    ),
  ]);
  return groups.flat();
}

export async function runDoctor(options: DoctorOptions): Promise<DoctorReport> {
  const first = await runChecks(options);
  const node = options.local?.name;
  const planned: FixAction[] = options.fix ? first.flatMap((result) => result.fixes ?? []) : [];
  if (planned.length === 0) return { node, results: first, fixes: [] };
  const progress = options.onProgress ?? (() => undefined);
  progress(`skypg doctor --fix: ${planned.length} change(s), all safe online:`);
  for (const fix of planned) progress(`  - ${fix.describe}`);
  const fixes: AppliedFix[] = [];
  // One after the other: two fixes may touch the same server, and the order shown is the order made.
  for (const fix of planned) {
    try {
      const note = await fix.apply();
      fixes.push({
        action: fix.describe,
        result: 'applied',
        ...(note === undefined ? {} : { note }),
      });
      progress(
        `applied: ${fix.describe.split('\n')[0] ?? ''}${note === undefined ? '' : ` (${note})`}`,
      );
    } catch (error) {
      fixes.push({ action: fix.describe, result: 'failed', note: messageOf(error) });
      progress(`failed (${messageOf(error)}): ${fix.describe}`);
    }
  }
  progress('checking again after the fixes');
  return { node, results: await runChecks(options), fixes };
}

/** Each level's status query runs in turn, bounded by its connect_timeout. */
function fenceCheckBudget(node: NodeConfig): number {
  return node.fence.reduce((sum, fence) => sum + fence.connect_timeout, 0);
}
