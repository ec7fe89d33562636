// Reads the configuration file, validates it, and points at every problem as FILE:LINE:COL.
import { slotNameFor } from '../pg/slots.js';
import { constants, type Stats } from 'node:fs';
import { isIP } from 'node:net';
import { access, open, stat } from 'node:fs/promises';
import { LineCounter, isMap, isPair, isScalar, isSeq, parseDocument, type Node } from 'yaml';
import { SkypgError, messageOf } from '../common/errors.js';
import { formatListen, parseListen } from './listen.js';
import { formatDuration } from './units.js';
import { configSchema, isOneLine, isProgramPath, type RawConfig, type RawNode } from './schema.js';
import { containsControlCharacter, validate, type Issue, type KeyPath } from './schema-kit.js';
import type {
  ClusterConfig,
  HookCommand,
  HookEventName,
  HooksConfig,
  NodeConfig,
  VipConfig,
} from './types.js';
import { nonEmpty } from '../common/env.js';

export const defaultConfigPath = '/etc/skypg/skypg.yaml';

/** --config, else $SKYPG_CONFIG, else /etc/skypg/skypg.yaml. */
export function resolveConfigPath(flag: string | undefined): string {
  return flag ?? nonEmpty(process.env['SKYPG_CONFIG']) ?? defaultConfigPath;
}

export interface Problem {
  file: string;
  line: number;
  col: number;
  path: string;
  message: string;
}

export interface LoadedConfig {
  config: ClusterConfig;
  /** What the configuration gives up (no VIP, no fencing...): legal, but said out loud. */
  warnings: string[];
}

/** Loads and validates; throws CONFIG_* errors, with every problem in `details`. */
export async function loadConfigFile(file: string): Promise<LoadedConfig> {
  const text = await readConfigText(file);
  const { config, problems, warnings } = await checkConfigText(text, file);
  if (config === undefined) {
    const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
    throw new SkypgError('CONFIG_INVALID', `${file} has ${count}`, {
      details: problems.map(formatProblem),
      hint: `fix the lines above; 'skypg config check -c ${file}' rechecks`,
    });
  }
  return { config, warnings };
}

export function formatProblem(problem: Problem): string {
  const path = problem.path === '' ? '' : `${problem.path}: `;
  return `${problem.file}:${problem.line}:${problem.col}: ${path}${problem.message}`;
}

async function readConfigText(file: string): Promise<string> {
  const hint = `pass --config FILE or set SKYPG_CONFIG; 'skypg config example' prints a starting point`;
  let handle;
  try {
    // O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then refuses it.
    handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT')
      throw new SkypgError('CONFIG_NOT_FOUND', `config file ${file} does not exist`, { hint });
    if (code === 'EACCES') {
      throw new SkypgError(
        'CONFIG_UNREADABLE',
        `config file ${file} cannot be read: permission denied`,
        {
          hint: 'run as a user that can read it (it should be readable by the skypg/postgres user)',
        },
      );
    }
    if (code === 'EISDIR') throw notAFile(file, 'a directory');
    throw new SkypgError(
      'CONFIG_UNREADABLE',
      `config file ${file} cannot be read: ${code ?? 'unknown error'}`,
    );
  }
  try {
    const info = await handle.stat();
    if (info.isDirectory()) throw notAFile(file, 'a directory');
    if (!info.isFile()) throw notAFile(file, fileKind(info));
    return await handle.readFile('utf8');
  } catch (error) {
    if (error instanceof SkypgError) throw error;
    const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
    throw new SkypgError('CONFIG_UNREADABLE', `config file ${file} cannot be read: ${code}`, {
      hint: 'check its permissions',
    });
  } finally {
    await handle.close();
  }
}

function notAFile(file: string, kind: string): SkypgError {
  return new SkypgError('CONFIG_UNREADABLE', `config path ${file} is ${kind}, not a file`, {
    hint: 'name the YAML file itself, e.g. /etc/skypg/skypg.yaml',
  });
}

function fileKind(info: Stats): string {
  if (info.isFIFO()) return 'a named pipe (FIFO)';
  if (info.isSocket()) return 'a socket';
  if (info.isCharacterDevice()) return 'a character device';
  if (info.isBlockDevice()) return 'a block device';
  return 'not a regular file';
}

/**
 * Validates YAML text. Returns the config when there are no problems; problems are
 * located in the file. Password files are checked on disk (mode and existence).
 */
export async function checkConfigText(
  text: string,
  file: string,
): Promise<{ config?: ClusterConfig; problems: Problem[]; warnings: string[] }> {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number): { line: number; col: number } => {
    const position = lineCounter.linePos(offset);
    return { line: position.line, col: position.col };
  };

  if (document.errors.length > 0) {
    const problems = document.errors.map((error) => ({
      file,
      ...at(error.pos[0]),
      path: '',
      message: `malformed YAML: ${error.message.split('\n')[0] ?? error.message}`,
    }));
    return { problems, warnings: [] };
  }
  if (text.trim() === '' || document.contents === null) {
    return {
      problems: [{ file, line: 1, col: 1, path: '', message: 'the file is empty' }],
      warnings: [],
    };
  }

  let plain: unknown;
  try {
    // Each alias counts against maxAliasCount, so a "billion laughs" file stops here.
    plain = document.toJS({ maxAliasCount: 50 });
  } catch (error) {
    const message = /alias/i.test(messageOf(error))
      ? 'the file uses more YAML aliases (*name) than a configuration needs; write the values out'
      : `malformed YAML: ${messageOf(error).split('\n')[0] ?? ''}`;
    return { problems: [{ file, line: 1, col: 1, path: '', message }], warnings: [] };
  }
  const { value: raw, issues } = validate(configSchema, plain);
  issues.push(...nonDecimalNumbers(document.contents, []));
  if (raw !== undefined) issues.push(...crossCheck(raw));
  if (raw !== undefined) issues.push(...(await checkPasswordFiles(raw)));
  const problems = issues.map((issue) => ({
    file,
    ...at(locate(document.contents, issue)),
    path: formatPath(withoutSingleIndexes(document.contents, issue.path)),
    message: issue.message,
  }));
  problems.sort((a, b) => a.line - b.line || a.col - b.col);
  if (raw === undefined || problems.length > 0) return { problems, warnings: [] };
  const config = normalize(raw);
  return { config, problems: [], warnings: await safetyWarnings(config) };
}

/** YAML reads 0x1538 and 0o17 as numbers; in a port or a count that is a typo or a trick. */
function nonDecimalNumbers(node: unknown, path: (string | number)[]): Issue[] {
  if (isMap(node)) {
    return node.items.flatMap((pair) =>
      isScalar(pair.key) ? nonDecimalNumbers(pair.value, [...path, String(pair.key.value)]) : [],
    );
  }
  if (isSeq(node))
    return node.items.flatMap((item, index) => nonDecimalNumbers(item, [...path, index]));
  if (isScalar(node) && (node.format === 'HEX' || node.format === 'OCT')) {
    const written = node.source ?? String(node.value);
    const message = `is written as ${written}; write numbers in decimal (${String(node.value)})`;
    return [{ path, message }];
  }
  return [];
}

/** Rules that span several keys. */
function crossCheck(raw: RawConfig): Issue[] {
  const issues: Issue[] = [];
  const [first, second] = raw.nodes;
  if (first && second && first.name === second.name) {
    issues.push({
      path: ['nodes', 1, 'name'],
      message: `duplicates the name of nodes[0] ("${first.name}")`,
    });
  }
  const portOf = (index: 0 | 1): number => raw.nodes[index]?.postgres?.port ?? raw.postgres.port;
  if (first && second && first.address === second.address && portOf(0) === portOf(1)) {
    issues.push({
      path: ['nodes', 1, 'address'],
      message: `nodes[0] has the same address and port (${first.address}:${portOf(0)}); give one node another port`,
    });
  }
  if (first && second) {
    for (const [what, name, listenOf] of [
      ['api', 'the health API', apiListenOf],
      ['beacon', 'the beacon', beaconListenOf],
    ] as const) {
      const [one, other] = [listenOf(raw, first), listenOf(raw, second)];
      if (one && other && one.host === other.host && one.port === other.port) {
        issues.push({
          path: second[what] === undefined ? [what, 'listen'] : ['nodes', 1, what, 'listen'],
          message: `gives both nodes ${name} on ${formatListen(one.host, one.port)}; give each node its own nodes[N].${what}.listen (or ${what}: false)`,
        });
      }
    }
  }
  if (raw.beacon !== false && raw.beacon.timeout < 3 * raw.beacon.interval) {
    issues.push({
      path: ['beacon', 'timeout'],
      message: `is shorter than 3 x beacon.interval (${formatDuration(3 * raw.beacon.interval)}): one or two lost datagrams would look like a silence; raise it or lower beacon.interval`,
    });
  }
  const slot = raw.replication.slot;
  raw.nodes.forEach((node) => {
    if (slot !== undefined && slotNameFor(slot, node.name).length > 63) {
      issues.push({
        path: ['replication', 'slot'],
        message: `names slot "${slotNameFor(slot, node.name)}" for ${node.name}, longer than PostgreSQL's 63 bytes; shorten it`,
      });
    }
  });
  raw.nodes.forEach((node, index) => {
    for (const [level, fence] of (node.fence ?? []).entries()) {
      const path = ['nodes', index, 'fence', level];
      if (fence.agent === 'command' && fence.command === undefined) {
        issues.push({ path: [...path, 'command'], message: 'is required when agent is "command"' });
      }
      if (fence.agent !== 'command' && fence.ip === undefined) {
        issues.push({
          path: [...path, 'ip'],
          message: `is required for agent "${fence.agent}" (the fence device's address)`,
        });
      }
      issues.push(...fenceOptionIssues(fence.options, [...path, 'options']));
    }
  });
  const vips = [raw.vip?.primary, raw.vip?.standby];
  if (vips[0] && vips[1] && addressOf(vips[0].address) === addressOf(vips[1].address)) {
    issues.push({
      path: ['vip', 'standby', 'address'],
      message: 'is the same address as vip.primary.address',
    });
  }
  for (const [role, vip] of [
    ['primary', vips[0]],
    ['standby', vips[1]],
  ] as const) {
    if (vip !== undefined) issues.push(...checkVip(raw, role, vip));
  }
  issues.push(...hookCommandIssues(raw));
  return issues;
}

/** The `hooks:` keys that name a command, in the order docs/hooks.md lists them. */
const hookKeys: readonly (readonly [HookEventName, `on_${HookEventName}`])[] = [
  ['role_change', 'on_role_change'],
  ['fence', 'on_fence'],
  ['promote', 'on_promote'],
  ['demote', 'on_demote'],
  ['failover_blocked', 'on_failover_blocked'],
  ['rejoin', 'on_rejoin'],
  ['switchover', 'on_switchover'],
];

/** Every configured hook command with its key path, pre_promote last. */
function rawHookCommands(raw: RawConfig): { path: KeyPath; argv: string[] }[] {
  const commands = hookKeys.flatMap(([, key]) => {
    const argv = raw.hooks[key];
    return argv === undefined ? [] : [{ path: ['hooks', key], argv }];
  });
  const pre = raw.hooks.pre_promote;
  if (pre !== undefined)
    commands.push({ path: ['hooks', 'pre_promote', 'command'], argv: pre.command });
  return commands;
}

/** A hook's first item is the program: an absolute path, as a fence `command` is. */
function hookCommandIssues(raw: RawConfig): Issue[] {
  return rawHookCommands(raw).flatMap(({ path, argv }) => {
    const program = argv[0] ?? '';
    if (isProgramPath(program)) return [];
    return [
      {
        // A list points at its first item; a lone path is the value itself.
        path: argv.length === 1 ? path : [...path, 0],
        message: `must start with the absolute path of an executable (letters, digits, "_", ".", "/", "+", "-"; no shell), got ${JSON.stringify(program)}`,
      },
    ];
  });
}

type RawVip = NonNullable<NonNullable<RawConfig['vip']>['primary']>;

/** A VIP must be an IPv4 address no machine of the pair's network already uses. */
function checkVip(raw: RawConfig, role: 'primary' | 'standby', vip: RawVip): Issue[] {
  const issues: Issue[] = [];
  const path = ['vip', role];
  const address = addressOf(vip.address);
  if (isIP(address) === 6) {
    issues.push({
      path: [...path, 'address'],
      message:
        'is an IPv6 address, but skypg checks and announces VIPs with iputils arping, which is IPv4-only; use an IPv4 VIP',
    });
  }
  const same = (other: string | undefined): boolean =>
    other !== undefined && canonicalAddress(other) === canonicalAddress(address);
  const extra = 'a VIP must be an address no other machine uses';
  raw.nodes.forEach((node, index) => {
    if (same(node.address)) {
      issues.push({
        path: [...path, 'address'],
        message: `is node ${node.name}'s own address (${node.address}); a VIP must be an extra address`,
      });
    }
    const levels =
      node.fence === undefined ? [] : Array.isArray(node.fence) ? node.fence : [node.fence];
    for (const level of levels) {
      if (same(level.ip)) {
        issues.push({
          path: [...path, 'address'],
          message: `is also nodes[${index}].fence.ip (${level.ip ?? ''}); ${extra}`,
        });
      }
    }
  });
  raw.gateway.forEach((gateway, index) => {
    if (same(gateway)) {
      issues.push({
        path: [...path, 'address'],
        message: `is also gateway[${index}] (${gateway}); ${extra}`,
      });
    }
  });
  if (vip.label !== undefined) {
    const suffix = vip.label.startsWith(`${vip.interface}:`)
      ? vip.label.slice(vip.interface.length + 1)
      : '';
    if (vip.label.length > 15 || !/^[A-Za-z0-9_.-]+$/.test(suffix)) {
      issues.push({
        path: [...path, 'label'],
        message: `must be the interface name, a colon and a suffix, such as "${vip.interface}:1" (at most 15 characters), got ${JSON.stringify(vip.label)}`,
      });
    }
  }
  return issues;
}

/**
 * One spelling per address, so "::ffff:10.0.0.1" (an IPv4-mapped IPv6 address), "::FFFF:a00:1"
 * and "10.0.0.1" compare equal; host names compare case-insensitively.
 */
export function canonicalAddress(address: string): string {
  if (isIP(address) !== 6) return address.toLowerCase();
  // The WHATWG URL parser prints IPv6 in its canonical (RFC 5952) form; it refuses zone ids.
  let canonical: string;
  try {
    canonical = new URL(`http://[${address}]/`).hostname.slice(1, -1);
  } catch {
    return address.toLowerCase();
  }
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(canonical);
  if (mapped?.[1] === undefined || mapped[2] === undefined) return canonical;
  const high = parseInt(mapped[1], 16);
  const low = parseInt(mapped[2], 16);
  return [high >> 8, high & 255, low >> 8, low & 255].join('.');
}

/** Each option becomes a `key=value` line of the agent's stdin: nothing may start another line. */
function fenceOptionIssues(options: Record<string, string>, path: KeyPath): Issue[] {
  const issues: Issue[] = [];
  for (const [key, value] of Object.entries(options)) {
    if (!/^[A-Za-z0-9_-]+$/.test(key)) {
      issues.push({
        path: [...path, key],
        atKey: true,
        message:
          'an option name has only letters, digits, "_" and "-" (no "=", spaces or newlines)',
      });
    } else if (!isOneLine(value)) {
      issues.push({
        path: [...path, key],
        message: 'must fit on one line (no newline or other control character)',
      });
    }
  }
  return issues;
}

/** Password files hold device passwords: they must not be readable by group or others. */
async function checkPasswordFiles(raw: RawConfig): Promise<Issue[]> {
  const issues: Issue[] = [];
  const files = raw.nodes.flatMap((node, index) =>
    (node.fence ?? []).map((fence, level) => ({
      file: fence.password_file,
      path: ['nodes', index, 'fence', level, 'password_file'],
    })),
  );
  for (const { file, path } of files) {
    if (file === undefined) continue;
    try {
      const info = await stat(file);
      if (!info.isFile()) issues.push({ path, message: `${file} is not a regular file` });
      else if ((info.mode & 0o077) !== 0) {
        const mode = (info.mode & 0o777).toString(8).padStart(4, '0');
        issues.push({
          path,
          message: `${file} has mode ${mode}, readable by group or others; run 'chmod 600 ${file}'`,
        });
      }
    } catch (error) {
      // A missing file is a warning (the config may be checked before deployment), see safetyWarnings.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        issues.push({
          path,
          message: `${file} cannot be read: ${(error as NodeJS.ErrnoException).code ?? 'error'}`,
        });
      }
    }
  }
  return issues;
}

/** A legal configuration may still give up some safety; say which, in one line each. */
async function safetyWarnings(config: ClusterConfig): Promise<string[]> {
  const warnings: string[] = [];
  if (config.vip.primary === undefined) {
    warnings.push(
      'no vip.primary: clients must find the primary themselves (e.g. libpq target_session_attrs=read-write)',
    );
  }
  if (config.gateway.length === 0) {
    warnings.push(
      'no gateway: a node cut off from the network cannot tell that it is the isolated one, so automatic failover is disabled',
    );
  }
  if (config.failover.fencing === 'none') {
    warnings.push(
      'failover.fencing is "none": takeover waits for the old primary\'s self-demotion deadline instead of proof that it is powered off',
    );
  } else {
    for (const node of config.nodes) {
      if (node.fence.length === 0) {
        const peer = config.nodes.find((other) => other !== node);
        warnings.push(
          `node ${node.name} has no fence device: with fencing "required", ${peer?.name ?? 'its peer'} will never take over from it automatically`,
        );
      }
    }
  }
  for (const node of config.nodes) {
    for (const fence of node.fence) {
      const file = fence.password_file;
      if (file === undefined) continue;
      await stat(file).catch(() => {
        warnings.push(
          `nodes ${node.name}: fence.password_file ${file} does not exist yet; fencing ${node.name} through ${fence.label} fails until it does`,
        );
      });
    }
  }
  for (const { key, program } of configuredHookPrograms(config)) {
    await access(program, constants.X_OK).catch(() => {
      warnings.push(
        `${key}: ${program} is not an executable file (yet); the hook fails every time until it is`,
      );
    });
  }
  return warnings.map((warning) => `warning: ${warning}`);
}

/** Each configured hook's key and program. */
function configuredHookPrograms(config: ClusterConfig): { key: string; program: string }[] {
  const programs = hookKeys.flatMap(([event, key]) => {
    const command = config.hooks.commands[event];
    return command === undefined ? [] : [{ key: `hooks.${key}`, program: command.path }];
  });
  const pre = config.hooks.pre_promote;
  if (pre !== undefined)
    programs.push({ key: 'hooks.pre_promote.command', program: pre.command.path });
  return programs;
}

function normalize(raw: RawConfig): ClusterConfig {
  const nodes = raw.nodes.map((node): NodeConfig => ({
    name: node.name,
    address: node.address,
    data_dir: node.data_dir,
    postgres: {
      bin_dir: node.postgres?.bin_dir ?? raw.postgres.bin_dir,
      os_user: node.postgres?.os_user ?? raw.postgres.os_user,
      port: node.postgres?.port ?? raw.postgres.port,
      superuser: node.postgres?.superuser ?? raw.postgres.superuser,
      socket_dir: node.postgres?.socket_dir ?? raw.postgres.socket_dir,
      passfile: node.postgres?.passfile ?? raw.postgres.passfile,
      config_dir: node.postgres?.config_dir ?? raw.postgres.config_dir,
      log_file: node.postgres?.log_file ?? raw.postgres.log_file,
      connect_timeout: node.postgres?.connect_timeout ?? raw.postgres.connect_timeout,
      statement_timeout: node.postgres?.statement_timeout ?? raw.postgres.statement_timeout,
      sslmode: node.postgres?.sslmode ?? raw.postgres.sslmode,
      sslrootcert: node.postgres?.sslrootcert ?? raw.postgres.sslrootcert,
      sslcert: node.postgres?.sslcert ?? raw.postgres.sslcert,
      sslkey: node.postgres?.sslkey ?? raw.postgres.sslkey,
      channel_binding: node.postgres?.channel_binding ?? raw.postgres.channel_binding,
    },
    fence: (node.fence ?? []).map(({ name, ...device }) => ({
      label: name ?? device.agent,
      ...device,
    })),
    api: apiListenOf(raw, node),
    beacon: beaconListenOf(raw, node),
  }));
  const [first, second] = nodes;
  if (first === undefined || second === undefined)
    throw new Error('validated config has two nodes');
  return {
    cluster: raw.cluster,
    nodes: [first, second],
    vip: {
      primary: withHost(raw.vip?.primary),
      standby: withHost(raw.vip?.standby),
      announce: {
        count: raw.vip?.announce.count ?? 5,
        intervalSeconds: Number((raw.vip?.announce.interval ?? '1s').replace('s', '')),
      },
      dad_timeout: raw.vip?.dad_timeout ?? 500,
      command_prefix: raw.vip?.command_prefix,
    },
    gateway: raw.gateway,
    heartbeat: raw.heartbeat,
    replication: raw.replication,
    failover: raw.failover,
    beacon:
      raw.beacon === false || nodes.some((node) => node.beacon === undefined)
        ? undefined
        : {
            interval: raw.beacon.interval,
            timeout: raw.beacon.timeout,
            // Never longer than a loop's own check: a signal may only make the look quicker.
            confirm_timeout: Math.min(raw.beacon.confirm_timeout, raw.heartbeat.timeout),
          },
    supervisor: raw.supervisor,
    hooks: normalizeHooks(raw.hooks),
  };
}

function normalizeHooks(raw: RawConfig['hooks']): HooksConfig {
  const command = (argv: string[]): HookCommand => {
    const [path = '', ...args] = argv;
    return { path, args };
  };
  const commands: HooksConfig['commands'] = {};
  for (const [event, key] of hookKeys) {
    const argv = raw[key];
    if (argv !== undefined) commands[event] = command(argv);
  }
  return {
    timeout: raw.timeout,
    commands,
    pre_promote:
      raw.pre_promote === undefined
        ? undefined
        : { command: command(raw.pre_promote.command), timeout: raw.pre_promote.timeout },
  };
}

/** Where a node serves the health API: its own api, else the top-level one, on its address. */
function apiListenOf(raw: RawConfig, node: RawNode): NodeConfig['api'] {
  return listenOf(node.api ?? raw.api, node, 'api');
}

/** Where a node beacons: its own beacon, else the top-level one; off for both when that is. */
function beaconListenOf(raw: RawConfig, node: RawNode): NodeConfig['beacon'] {
  return listenOf(raw.beacon === false ? false : (node.beacon ?? raw.beacon), node, 'beacon');
}

function listenOf(
  chosen: false | { listen: string },
  node: RawNode,
  what: 'api' | 'beacon',
): { host: string; port: number } | undefined {
  if (chosen === false) return undefined;
  const listen = parseListen(chosen.listen);
  if (listen === undefined) throw new Error(`validated ${what}.listen ${chosen.listen} parses`);
  return { host: listen.host ?? node.address, port: listen.port };
}

/** A VIP with its derived address without the prefix length. */
function withHost(vip: RawVip | undefined): VipConfig | undefined {
  return vip === undefined ? undefined : { ...vip, host: addressOf(vip.address) };
}

function addressOf(cidr: string): string {
  return cidr.split('/')[0] ?? cidr;
}

export function formatPath(path: KeyPath): string {
  return path
    .map((segment, index) => {
      if (typeof segment === 'number') return `[${segment}]`;
      // A key with a newline in it must not break the one-line message that names it.
      if (containsControlCharacter(segment)) return `[${JSON.stringify(segment)}]`;
      return index === 0 ? segment : `.${segment}`;
    })
    .join('');
}

/**
 * The offset in the file an issue belongs to: the key for unknown keys, the value for bad
 * values, and for missing keys the mapping that lacks them (the nearest existing ancestor).
 */
function locate(root: unknown, issue: Issue): number {
  let node = root as Node | null;
  let offset = rangeStart(node) ?? 0;
  for (const [index, segment] of issue.path.entries()) {
    const last = index === issue.path.length - 1;
    if (isMap(node)) {
      const pair = node.items.find(
        (item) => isPair(item) && isScalar(item.key) && String(item.key.value) === String(segment),
      );
      if (!pair) return offset;
      if (last && issue.atKey) return rangeStart(pair.key as Node) ?? offset;
      node = (pair.value as Node | null) ?? null;
      offset = rangeStart(node) ?? rangeStart(pair.key as Node) ?? offset;
    } else if (isSeq(node) && typeof segment === 'number') {
      node = (node.items[segment] as Node | undefined) ?? null;
      offset = rangeStart(node) ?? offset;
    } else if (!(isMap(node) && typeof segment === 'number')) {
      // (a single item where a list is accepted, e.g. one fence device: the index is implied)
      return offset;
    }
  }
  return offset;
}

/** `fence[0].ip` is shown as `fence.ip` when the file has one device rather than a list. */
function withoutSingleIndexes(root: unknown, path: KeyPath): KeyPath {
  const out: (string | number)[] = [];
  let node = root as Node | null;
  for (const segment of path) {
    if (typeof segment === 'number' && isMap(node)) continue;
    out.push(segment);
    if (isMap(node)) {
      const pair = node.items.find(
        (item) => isPair(item) && isScalar(item.key) && String(item.key.value) === String(segment),
      );
      node = (pair?.value as Node | null | undefined) ?? null;
    } else if (isSeq(node) && typeof segment === 'number') {
      node = (node.items[segment] as Node | undefined) ?? null;
    } else node = null;
  }
  return out;
}

function rangeStart(node: Node | null | undefined): number | undefined {
  return node?.range?.[0];
}
