/**
 * The dashboard's view of the job vocabulary, all from @blockferry/contracts/vocabulary (a TypeBox-free module: the
 * package's main entry would pull the TypeBox runtime into the bundle, +48 KB).
 */
export {
  ACTIVE_JOB_STATES,
  isActiveJobState as isActive,
  isJobState,
  isPhase,
  isTerminalJobState as isTerminal,
  JOB_STATE_LABELS,
  JOB_STATES,
  PHASE_LABELS,
  PHASES,
} from "@blockferry/contracts/vocabulary";
