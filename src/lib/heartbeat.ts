// The heartbeat module's front door: what the rest of skypg uses of the heartbeat row
// (skypg.cluster_status) and its roles. The parts live in src/lib/heartbeat/: table.ts holds
// every statement on the row, targets.ts builds every connection to the heartbeat database,
// init.ts is `heartbeat init` and the role audit, beat.ts and pause.ts the commands' workflows.
export { beat, showHeartbeat, type BeatResult } from './heartbeat/beat.js';
export { auditReaderRoles, initHeartbeat, type HeartbeatInitResult } from './heartbeat/init.js';
export { setPause, type PauseResult } from './heartbeat/pause.js';
export {
  clearSwitchoverFlag,
  clearSyncDegrade,
  clusterStatusTable,
  readFlags,
  readHeartbeat,
  readSupervisorRow,
  recordSyncDegrade,
  setSwitchoverPhase,
  writeSwitchoverFlag,
  type FlagRead,
  type HeartbeatRow,
  type HeartbeatView,
  type SupervisorRowRead,
} from './heartbeat/table.js';
export {
  heartbeatDbTarget,
  withSuperuserSession,
  type HeartbeatLogin,
  type HeartbeatRoute,
} from './heartbeat/targets.js';
