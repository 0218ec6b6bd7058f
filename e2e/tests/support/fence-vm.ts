import { type LabHost, labExec } from "../../lab/harness.ts";
import { sh } from "./lvm.ts";

/** Where the stand-in VM keeps its pidfiles, hold files and log on a lab host. */
export const FENCE_DIR = "/run/fence-vm";
/** The script the jobs' VM commands call: `vm start|stop|status NAME`. */
export const FENCE_VM = `${FENCE_DIR}/vm`;

/**
 * A stand-in VM whose every start and stop is observable: the "VM" is a sleeping process with a pidfile, and each
 * command logs what it did with the guest's clock (microseconds). A hold file NAME.ACTION.before|after holding
 * "hold" makes the command wait before or after it takes effect, so a test can kill the server at that moment;
 * writing "go" lets it go on, "skip" makes it leave with no effect (as if it had never been issued).
 * status exits 0 when the VM runs here, 3 when not (what the job's status command must answer).
 */
const SCRIPT = `#!/bin/bash
set -u
dir=${FENCE_DIR}
action=$1 name=$2
pidfile=$dir/$name.pid
log() { echo "\${EPOCHREALTIME/./} $name $action $*" >>"$dir/log"; }
running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }
hold() {
  local f=$dir/$name.$action.$1 how
  [ -f "$f" ] || return 0
  log "held $1"
  while [ "$(cat "$f")" = hold ]; do sleep 0.1; done
  how=$(cat "$f")
  rm -f "$f"
  if [ "$how" = skip ]; then log skipped; exit 0; fi
}
case $action in
  status) running && exit 0; exit 3 ;;
  start)
    log begin
    hold before
    if running; then log "already running"; else
      setsid bash -c 'echo $$ >"$0"; exec sleep 100000' "$pidfile" </dev/null >/dev/null 2>&1 &
      until [ -s "$pidfile" ]; do sleep 0.05; done
      log effective
    fi
    hold after
    log end ;;
  stop)
    log begin
    hold before
    if running; then kill "$(cat "$pidfile")"; rm -f "$pidfile"; log effective; else log "not running"; fi
    hold after
    log end ;;
  *) echo "usage: vm start|stop|status NAME" >&2; exit 2 ;;
esac
`;

/** Puts the script on a host (a fresh log, no VM running). */
export async function installFenceVm(host: LabHost): Promise<void> {
  await labExec(
    host,
    `rm -rf ${FENCE_DIR} && mkdir -p ${FENCE_DIR} && cat >${FENCE_VM} && chmod 0755 ${FENCE_VM} && : >${FENCE_DIR}/log`,
    { input: SCRIPT },
  );
}

/** Stops every stand-in VM of the host and removes its state. */
export async function removeFenceVm(host: LabHost): Promise<void> {
  await sh(
    host,
    `for p in ${FENCE_DIR}/*.pid; do [ -f "$p" ] && kill "$(cat "$p")"; done 2>/dev/null; rm -rf ${FENCE_DIR}; true`,
  );
}

/** One line of the log: when (guest clock, ms), which VM, which command, and what it did. */
export interface FenceEntry {
  atMs: number;
  name: string;
  action: "start" | "stop";
  what: string;
}

export async function fenceLog(host: LabHost): Promise<FenceEntry[]> {
  return (await sh(host, `cat ${FENCE_DIR}/log`))
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const [us, name, action, ...what] = line.split(" ");
      return { atMs: Number(us) / 1000, name: String(name), action: action as "start" | "stop", what: what.join(" ") };
    });
}

/** Makes NAME's next ACTION on `host` wait at `point` until released. */
export async function holdAt(host: LabHost, name: string, action: "start" | "stop", point: "before" | "after") {
  await sh(host, `echo hold >${FENCE_DIR}/${name}.${action}.${point}`);
}

export async function release(
  host: LabHost,
  name: string,
  action: "start" | "stop",
  point: "before" | "after",
  how: "go" | "skip",
) {
  await sh(host, `echo ${how} >${FENCE_DIR}/${name}.${action}.${point}`);
}

/**
 * The guest clock minus ours, in ms: the guests' clocks are their own, so log times from two hosts are compared
 * after this correction (within half the fastest of three round trips).
 */
export async function clockOffsetMs(host: LabHost): Promise<number> {
  let best = { rtt: Number.POSITIVE_INFINITY, offset: 0 };
  for (let i = 0; i < 3; i++) {
    const t0 = Date.now();
    const guestMs = Number((await sh(host, `echo \${EPOCHREALTIME/./}`)).trim()) / 1000;
    const t1 = Date.now();
    if (t1 - t0 < best.rtt) best = { rtt: t1 - t0, offset: guestMs - (t0 + t1) / 2 };
  }
  return best.offset;
}
