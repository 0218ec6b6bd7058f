// Command templates for the direct data plane: per-migration SSH access from the source host to the target host.
// The target gets one authorized_keys line (restricted, forced command, marked with the job), the source a
// migration-private directory with the private key and a known_hosts pinning the target's host key. Every value
// is validated here; the private key itself only ever travels on stdin, never in command text.
import { InvalidValueError } from "./errors.ts";
import { uintText } from "./numbers.ts";
import { type RemotePath, validateRemotePath } from "./paths.ts";
import { shQuote } from "./quote.ts";
import {
  type ByteRun,
  HASH_TOOLS,
  type HashTool,
  MAX_RUNS_PER_COMMAND,
  receiveRecordsCommand,
  TRANSFER_DD_BS,
} from "./transfer-commands.ts";

/** Comment that ends every authorized_keys line of ours: how removal and crash recovery find them. */
export const MIGRATION_MARKER_PREFIX = "blockferry-migration-";
/** Where the source keeps a migration's key and known_hosts (tmpfs on most hosts: gone after a reboot too). */
const SOURCE_DIR_PREFIX = "/run/blockferry-";

function jobIdText(jobId: number): string {
  if (!Number.isSafeInteger(jobId) || jobId < 1)
    throw new InvalidValueError("job id", "out-of-range", String(jobId), "must be a positive integer");
  return String(jobId);
}

/**
 * The server instance a migration's access belongs to: 8 hex digits, so that two servers on one host (or two
 * servers sharing hypervisors) never remove each other's access. Absent: the legacy names without an instance.
 */
export type ServerInstance = string | undefined;

const INSTANCE = /^[0-9a-f]{8}$/;
export function validateServerInstance(value: string): string {
  if (!INSTANCE.test(value))
    throw new InvalidValueError("server instance", "bad-character", value, "must be 8 lowercase hex digits");
  return value;
}

/**
 * Whose access a key, directory or receive side is: a migration of this server instance, and for disks 1.. of a
 * VM's set the disk (each disk's copy has a key and a forced command of its own, for its own target device:
 * disks copy at once, so one shared name would let one disk's grant replace another's).
 */
export interface MigrationOwner {
  jobId: number;
  instance?: ServerInstance;
  /** The disk of a set; absent or 0: the job's own names (disk 0, and every one-disk migration). */
  disk?: number | undefined;
}

/** Highest disk index a name carries (far above any VM's disk count). */
const MAX_DISK = 4095;

function diskSuffix(disk: number | undefined): string {
  if (disk === undefined || disk === 0) return "";
  if (!Number.isSafeInteger(disk) || disk < 0 || disk > MAX_DISK)
    throw new InvalidValueError("disk index", "out-of-range", String(disk), `must be 0..${MAX_DISK}`);
  return `-d${disk}`;
}

/**
 * `INSTANCE-JOB` (or the legacy `JOB`), then `-dDISK` for disks 1..: what follows the marker prefix and the
 * directory prefix.
 */
const ownerTag = (jobId: number, instance: ServerInstance, disk?: number) =>
  (instance === undefined ? jobIdText(jobId) : `${validateServerInstance(instance)}-${jobIdText(jobId)}`) +
  diskSuffix(disk);
const tagOf = (o: MigrationOwner) => ownerTag(o.jobId, o.instance, o.disk);

export const migrationMarker = (jobId: number, instance?: ServerInstance, disk?: number) =>
  `${MIGRATION_MARKER_PREFIX}${ownerTag(jobId, instance, disk)}`;
export const migrationDir = (jobId: number, instance?: ServerInstance, disk?: number): RemotePath =>
  validateRemotePath(`${SOURCE_DIR_PREFIX}${ownerTag(jobId, instance, disk)}`, "migration directory");
const dirOf = (o: MigrationOwner) => migrationDir(o.jobId, o.instance, o.disk);

/** A host name or an IPv4/IPv6 literal, as other hypervisors reach a host; nothing a shell or ssh would parse. */
export function validateMigrationHost(value: string): string {
  if (value.length === 0) throw new InvalidValueError("migration host", "empty", value, "must not be empty");
  if (value.length > 253) throw new InvalidValueError("migration host", "too-long", value, "at most 253 characters");
  if (!/^[A-Za-z0-9.:-]+$/.test(value)) {
    const bad = [...value].find((c) => !/[A-Za-z0-9.:-]/.test(c)) ?? "";
    throw new InvalidValueError("migration host", "bad-character", value, `character ${JSON.stringify(bad)}`);
  }
  if (value.startsWith("-"))
    throw new InvalidValueError("migration host", "leading-hyphen", value, "must not start with '-'");
  return value;
}

const IP_LITERAL = /^(\d{1,3}(\.\d{1,3}){3}|[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*)$/;
export const isIpLiteral = (host: string) => IP_LITERAL.test(host);

const PUBLIC_KEY = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]+={0,2}$/;

/** `TYPE BASE64` of an OpenSSH public key (a trailing comment is dropped). */
export function validatePublicKey(value: string): string {
  const key = value.trim().split(/ +/).slice(0, 2).join(" ");
  if (/[\n\r\0]/.test(value.trim()) || !PUBLIC_KEY.test(key))
    throw new InvalidValueError("ssh public key", "bad-character", value, "not an OpenSSH public key");
  return key;
}

export interface MigrationEndpoint {
  host: string;
  port: number;
  user: string;
}

function endpointParts(e: MigrationEndpoint): { host: string; port: string; user: string } {
  if (!Number.isInteger(e.port) || e.port < 1 || e.port > 65535)
    throw new InvalidValueError("ssh port", "out-of-range", String(e.port), "must be 1..65535");
  if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(e.user))
    throw new InvalidValueError("ssh user", "bad-character", e.user, "not a plain user name");
  return { host: validateMigrationHost(e.host), port: String(e.port), user: e.user };
}

/** known_hosts line pinning `publicKey` for the endpoint (`[host]:port` unless port 22). */
export function knownHostsLine(o: { host: string; port: number; publicKey: string }): string {
  const host = validateMigrationHost(o.host);
  const name = o.port === 22 ? host : `[${host}]:${o.port}`;
  return `${name} ${validatePublicKey(o.publicKey)}`;
}

/**
 * The target's authorized_keys line for one migration: `restrict` (no forwarding of any kind, no pty, no
 * ~/.ssh/rc), the forced command (whatever the client asks to run, this runs), `from=` the source's address when
 * known, and the marker. The forced command must be one line without backslashes (a `"` becomes `\"`, the only
 * escape the option syntax has).
 */
export function authorizedKeyLine(
  o: MigrationOwner & {
    publicKey: string;
    forcedCommand: string;
    from?: string;
  },
): string {
  if (/[\n\r\\\0]/.test(o.forcedCommand))
    throw new InvalidValueError("forced command", "bad-character", o.forcedCommand, "newline or backslash");
  const options = ["restrict", `command="${o.forcedCommand.replaceAll('"', '\\"')}"`];
  if (o.from !== undefined) options.push(`from="${validateMigrationHost(o.from)}"`);
  return `${options.join(",")} ${validatePublicKey(o.publicKey)} ${migrationMarker(o.jobId, o.instance, o.disk)}`;
}

/** grep pattern of the job's lines (anchored: job 7 must not match job 71, nor another instance's job 7). */
const markerPattern = (o: MigrationOwner) => shQuote(` ${MIGRATION_MARKER_PREFIX}${tagOf(o)}$`);
const KEYS = '"$HOME/.ssh/authorized_keys"';

/** Drops the lines matching `pattern` from authorized_keys when it has any (rewritten through a temp file). */
const dropLines = (pattern: string) =>
  `if [ -f ${KEYS} ] && grep -q -e ${pattern} ${KEYS}; then { grep -v -e ${pattern} ${KEYS} || [ $? -eq 1 ]; } >${KEYS}.bf-tmp && mv -f ${KEYS}.bf-tmp ${KEYS}; fi`;

/**
 * Target: installs the authorized_keys line read from stdin (one line, checked to end with this job's marker),
 * replacing an earlier line of the same job (a resumed migration gets a fresh key).
 */
export function installAuthorizedKeyCommand(o: MigrationOwner): string {
  const pattern = markerPattern(o);
  return [
    "umask 077",
    'mkdir -p "$HOME/.ssh"',
    "IFS= read -r line",
    `printf '%s\\n' "$line" | grep -q -e ${pattern} || { echo "blockferry: not this migration's key line" >&2; exit 65; }`,
    dropLines(pattern),
    `printf '%s\\n' "$line" >>${KEYS}`,
  ].join(" && ");
}

/** Target: removes the job's authorized_keys line (idempotent). */
export function removeAuthorizedKeyCommand(o: MigrationOwner): string {
  return `umask 077 && ${dropLines(markerPattern(o))}`;
}

/**
 * Source: a fresh migration-private directory (0700) with the private key from stdin (0600) and the known_hosts
 * line pinning the target.
 */
export function writeSourceAccessCommand(o: MigrationOwner & { knownHosts: string }): string {
  const dir = shQuote(dirOf(o));
  if (/[\n\r\0]/.test(o.knownHosts))
    throw new InvalidValueError("known_hosts line", "bad-character", o.knownHosts, "one line only");
  return [
    "umask 077",
    `rm -rf ${dir}`,
    `mkdir -m 0700 ${dir}`,
    `cat >${dir}/id_ed25519`,
    `printf '%s\\n' ${shQuote(o.knownHosts)} >${dir}/known_hosts`,
  ].join(" && ");
}

/** Source: removes the job's directory (idempotent). The target's (receive pids) goes with removeTargetAccessCommand. */
export function removeSourceAccessCommand(o: MigrationOwner): string {
  return `rm -rf ${shQuote(dirOf(o))}`;
}

/**
 * What a receive side's shell carries in its command line (`: TAG;`, a no-op): ending receivers checks it
 * before it kills a pid it found in the migration directory, so a pid reused since is never killed. The `;`
 * anchors it: job 7's tag is not job 71's.
 */
const receiveTag = (o: MigrationOwner) => `: blockferry-receive-${tagOf(o)};`;

/**
 * Target: the forced command around `receive`: it records its shell's pid in the migration directory (named as
 * the source's; removed by revoke and the sweep) before receiving, so revoking can end it. sshd starts a forced
 * command in a session of its own, so that pid is also the process group of every dd and hash it runs. Without
 * this, a receive side whose source vanished (a cut link) lives on until sshd gives up on the session.
 */
export function trackedReceiveCommand(o: MigrationOwner & { receive: string }): string {
  const dir = shQuote(dirOf(o));
  const register = [
    "umask 077",
    `mkdir -p ${dir} && bf_pid=${dir}/r.$$ && echo $$ >"$bf_pid" || exit 1`,
    `trap 'rm -f "$bf_pid"' EXIT`,
  ];
  return `${receiveTag(o)} ${[...register, o.receive].join("; ")}`;
}

/**
 * Target: removes the job's authorized_keys line first (no new session), then kills the process group of each
 * receive side the directory lists whose command line still carries the job's tag and which still leads its
 * group, then removes the directory. Idempotent; never touches a process the directory does not name.
 */
export function removeTargetAccessCommand(o: MigrationOwner): string {
  const dir = shQuote(dirOf(o));
  const tag = shQuote(receiveTag(o));
  // `kill -s KILL -- -PGID`: dash and bash; busybox ash wants it without `--`.
  // /proc/PID/stat: `PID (COMM) STATE PPID PGRP ...`; COMM may hold spaces and parentheses, so cut after the last `) `.
  const leadsGroup = `st=$(cat "/proc/$p/stat" 2>/dev/null) && set -- \${st##*) } && [ "$3" = "$p" ]`;
  const kill = [
    `for f in ${dir}/r.*; do [ -f "$f" ] || continue; p=\${f##*/r.}`,
    `case $p in ''|*[!0-9]*) continue ;; esac`,
    `if grep -q -F -e ${tag} "/proc/$p/cmdline" 2>/dev/null && ${leadsGroup}; then kill -s KILL -- "-$p" 2>/dev/null || kill -s KILL "-$p" 2>/dev/null || true; fi`,
    `rm -f "$f"; done`,
  ].join("; ");
  return `${removeAuthorizedKeyCommand(o)} && { ${kill}; } && ${removeSourceAccessCommand(o)}`;
}

/**
 * Either side: every leftover of this server instance's and of the legacy names (from before instances), one
 * `INSTANCE-JOB` or `JOB` tag per line (then `-dDISK` for disk 1.. of a set; an authorized_keys marker or a source
 * directory), for crash recovery to
 * remove those of jobs no longer running. Another instance's leftovers are never listed.
 */
export function leftoverMigrationsCommand(o: { instance?: ServerInstance } = {}): string {
  const own = o.instance === undefined ? null : validateServerInstance(o.instance);
  const disk = "\\(-d[0-9][0-9]*\\)\\{0,1\\}";
  const tags = own === null ? `[0-9][0-9]*${disk}` : `\\(${own}-\\)\\{0,1\\}[0-9][0-9]*${disk}`;
  const fromKeys = `{ [ ! -f ${KEYS} ] || grep -o -e ${shQuote(` ${MIGRATION_MARKER_PREFIX}${tags}$`)} ${KEYS} || true; } | sed 's/.*${MIGRATION_MARKER_PREFIX}//'`;
  // The legacy glob also matches an instance starting with a digit: only all-digit tags (and ours) are kept.
  const globs =
    own === null ? `${SOURCE_DIR_PREFIX}[0-9]*` : `${SOURCE_DIR_PREFIX}${own}-[0-9]* ${SOURCE_DIR_PREFIX}[0-9]*`;
  const job = own === null ? "n=$t" : `case $t in ${own}-*) n=\${t#${own}-} ;; *) n=$t ;; esac`;
  // A disk's tag ends in -dDISK: its digits are checked as the job's are.
  const diskOf = `case $n in *-d*) k=\${n##*-d}; n=\${n%-d*}; case $k in ''|*[!0-9]*) continue ;; esac ;; esac`;
  const fromDirs = `for d in ${globs}; do [ -d "$d" ] || continue; t=\${d#${SOURCE_DIR_PREFIX}}; ${job}; ${diskOf}; case $n in ''|*[!0-9]*) continue ;; esac; echo "$t"; done; true`;
  return `{ ${fromKeys}; ${fromDirs}; } | sort -u`;
}

/** What the direct path's OpenSSH client offers, preferred first. */
export const DIRECT_CIPHERS =
  "aes128-gcm@openssh.com,chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr";

/**
 * Source: the OpenSSH client invocation that reaches the target with the job's key only, the pinned host key
 * only, no agent, X11 or port forwarding, no prompts, no user or system config. The target runs its forced
 * command whatever follows; nothing does.
 */
export function directSshCommand(o: MigrationOwner & { target: MigrationEndpoint }): string {
  const dir = dirOf(o);
  const { host, port, user } = endpointParts(o.target);
  const options = [
    "IdentitiesOnly=yes",
    `IdentityFile=${dir}/id_ed25519`,
    `UserKnownHostsFile=${dir}/known_hosts`,
    "GlobalKnownHostsFile=/dev/null",
    "StrictHostKeyChecking=yes",
    "BatchMode=yes",
    "ForwardAgent=no",
    "ForwardX11=no",
    "ClearAllForwardings=yes",
    // OpenSSH's default ciphers with AES-GCM first (its default puts ChaCha20 first): hypervisor CPUs have AES
    // instructions, and there AES-GCM costs the source and the target a fraction of ChaCha20-Poly1305's CPU
    // (the data plane's largest cost after the hashes; measured in bench/transfer.bench.ts `direct`).
    `Ciphers=${DIRECT_CIPHERS}`,
    "ControlMaster=no",
    "ControlPath=none",
    "ConnectTimeout=20",
    "ServerAliveInterval=5",
    "ServerAliveCountMax=4",
    "LogLevel=ERROR",
  ];
  const args = ["-F", "/dev/null", "-T", ...options.flatMap((option) => ["-o", option]), "-p", port, `${user}@${host}`];
  return `ssh ${args.map(shQuote).join(" ")}`;
}

/**
 * Seconds the probe waits for the target's sshd: a refused port answers at once, a dead link never does. Not less:
 * a slow host (the qemu lab under load) takes seconds for the key exchange, and a false "unreachable" costs
 * auto the direct path.
 */
const PROBE_TIMEOUT_S = 10;

/**
 * Source: proves it reaches the target's migration address and that the host key presented there is the pinned
 * one, before any key is installed: ssh-keyscan's ed25519 key compared with the pinned key. Prints `ok`, or
 * `unreachable` / `mismatch` (exit 0 either way: the caller words the reason).
 */
export function probeMigrationAddressCommand(o: {
  host: string;
  port: number;
  publicKey: string;
  /** ssh-keyscan's wait (default PROBE_TIMEOUT_S). */
  timeoutSeconds?: number | undefined;
}): string {
  const host = validateMigrationHost(o.host);
  const key = validatePublicKey(o.publicKey);
  const type = key.split(" ")[0] as string;
  const keyType = type === "ssh-ed25519" ? "ed25519" : type === "ssh-rsa" ? "rsa" : "ecdsa";
  if (!Number.isInteger(o.port) || o.port < 1 || o.port > 65535)
    throw new InvalidValueError("ssh port", "out-of-range", String(o.port), "must be 1..65535");
  const wait = o.timeoutSeconds ?? PROBE_TIMEOUT_S;
  if (!Number.isInteger(wait) || wait < 1 || wait > 60)
    throw new InvalidValueError("keyscan timeout", "out-of-range", String(wait), "must be 1..60 seconds");
  const scan = `ssh-keyscan -T ${wait} -t ${keyType} -p ${o.port} ${shQuote(host)} 2>/dev/null`;
  return `seen=$(${scan} | cut -d' ' -f2,3); if [ -z "$seen" ]; then echo unreachable; elif [ "$seen" = ${shQuote(key)} ]; then echo ok; else echo mismatch; fi`;
}

/**
 * Target: the direct path's receive side for `device` (the forced command's core, see trackedReceiveCommand,
 * which makes the migration directory it works in): the records as the relay sends them, proven by the hash of
 * the whole record stream rebuilt from the device, which the source's own hash of what it sent must equal
 * (directSendCommand).
 */
export const directReceiveCommand = (o: MigrationOwner & { device: string; hash: HashTool }) =>
  receiveRecordsCommand({
    device: o.device,
    hash: o.hash,
    proof: "stream",
    workDir: dirOf(o),
  });

/** Progress lines the source prints per block: data sent, zero record sent, zero block skipped. */
export const DIRECT_PROGRESS = /^p ([dzs]) (\d+)$/;
/** The source's own hash line, printed last: `s ` and the hash tool's line over the record stream it sent. */
export const DIRECT_SOURCE_HASH = /^s (.+)$/;

/** Longest data record the source sends (the target runs one `dd` to write it and one to read it back). */
export const DIRECT_RECORD_BYTES = 32 * 1024 * 1024;

/**
 * Source side of a direct batch, one POSIX sh command line. Two shells: a scanner that prints one
 * `d|z OFFSET LENGTH` line per block of `blockBytes` (the runs are cut into blocks here; with `zeroes` each block
 * is checked against /dev/zero by one `cmp`, else every run is one `d` line), then `e`; and a sender that joins
 * adjacent lines of one kind into records of at most `recordBytes` and sends them. The scanner runs ahead of the
 * sender (on another core), so the checks cost the stream no time and a record starts once its own blocks were
 * checked. Per step of at most `stepBytes` of a data or zero record the sender waits for a `g` line on stdin (the
 * server's pacing: bandwidth limit and flow control; a skipped zero step moves nothing and waits for none); zero
 * blocks go as `z` records (or, `skipZeroes`, nothing: a fresh thin target reads zeroes), the others as `d`
 * records with the bytes read. The record stream goes through one `tee` into a fifo its hash tool reads (the
 * hash of exactly what was sent, each data record's bytes as read) and into `sshCommand` (the target's forced
 * command: receive side, proof "stream", which hashes the same stream rebuilt from its device). Output: one
 * `p KIND LENGTH` line per step, the target's read-back lines, then `s HASHLINE`. A failed read, a missing token,
 * a scanner that ended early or a failed ssh fails the command.
 */
export function directSendCommand(
  o: MigrationOwner & {
    device: string;
    runs: readonly ByteRun[];
    blockBytes: number;
    /**
     * Pacing unit: one token and one progress line per this many bytes of a data or zero record at most (default
     * blockBytes). Bigger than blockBytes without a bandwidth limit: fewer lines in and tokens out for the server.
     */
    stepBytes?: number;
    /** Longest record (default the larger of stepBytes and DIRECT_RECORD_BYTES). */
    recordBytes?: number;
    zeroes: boolean;
    skipZeroes: boolean;
    hash: HashTool;
    sshCommand: string;
  },
): string {
  const dev = shQuote(validateRemotePath(o.device, "transfer device"));
  const dir = shQuote(dirOf(o));
  const block = uintText("direct block", o.blockBytes, { min: 512n, multipleOf: 512n });
  const step = uintText("direct step", o.stepBytes ?? o.blockBytes, { min: 512n, multipleOf: 512n });
  const record = uintText("direct record", o.recordBytes ?? Math.max(Number(step), DIRECT_RECORD_BYTES), {
    min: 512n,
    multipleOf: 512n,
  });
  if (o.runs.length === 0 || o.runs.length > MAX_RUNS_PER_COMMAND)
    throw new InvalidValueError("direct runs", "out-of-range", String(o.runs.length), "1..512 runs per command");
  const runs = o.runs.map(([offset, length]) => {
    const off = uintText("direct run offset", offset, { multipleOf: 512n });
    const len = uintText("direct run length", length, { min: 512n, multipleOf: 512n });
    return `b ${off} ${len}`;
  });
  if (!o.sshCommand.startsWith("ssh ") || /[\n\r\0]/.test(o.sshCommand))
    throw new InvalidValueError("direct ssh command", "bad-character", o.sshCommand, "not an ssh command line");
  const dd = `bs=${TRANSFER_DD_BS} status=none`;
  // Direct I/O: a data block's zero check stopped at its first bytes, so the page cache has nothing to offer.
  const read = `r(){ dd if=${dev} iflag=direct,skip_bytes,count_bytes ${dd} skip="$1" count="$2"; }`;
  // The scanner's zero check: one process per block: cmp skips to the block itself (operands SKIP1 SKIP2, GNU and
  // busybox alike) and stops at the first non-zero byte. (One cmp from a block to the end of the run, stopping at
  // its first non-zero byte, would cost a zero stretch one process, but busybox's cmp without -s lists every
  // differing byte instead of stopping at the first.) A failed check (exit 2: a read error) makes the block
  // data: it is then read (and fails there), never skipped.
  const isZero = `c(){ cmp -s -n "$2" ${dev} /dev/zero "$1" 0; }`;
  const cut = (len: string, at: string, end: string, size: string) =>
    `${len}=$((${end} - ${at})); [ "$${len}" -le ${size} ] || ${len}=${size}`;
  // Scanner: `z|d OFFSET LENGTH` lines covering a run in order, one per block.
  const scan = o.zeroes
    ? `b(){ o=$1; e=$(($1 + $2)); while [ "$o" -lt "$e" ]; do ${cut("m", "o", "e", block)}; k=d; if c "$o" "$m"; then k=z; fi; echo "$k $o $m"; o=$((o + m)); done; }`
    : `b(){ echo "d $1 $2"; }`;
  // Sender. A token per step (the server's pacing, on fd 6): t.
  const token = `t(){ IFS= read -r go <&6 || return 1; [ "$go" = g ]; }`;
  const zeroBlock = o.skipZeroes ? `echo "p s $2" >&4` : `printf 'z %s %s\\n' "$1" "$2" && echo "p z $2" >&4`;
  // A data record: its header, then its steps. A failed read or a missing token ends the stream without its end
  // record (the target then fails) and leaves a mark.
  const dataRecord = [
    `d(){ printf 'd %s %s\\n' "$1" "$2"; p=$1; q=$(($1 + $2))`,
    `while [ "$p" -lt "$q" ]; do ${cut("n", "p", "q", step)}; t || { : >"$y"; return 1; }; r "$p" "$n" || { : >"$x"; return 1; }; echo "p d $n" >&4; p=$((p + n)); done; }`,
  ].join("; ");
  // A skipped zero step moves nothing anywhere: no token (the server's pacing is for bytes sent or written).
  const zeroRecords = `zs(){ p=$1; q=$(($1 + $2)); while [ "$p" -lt "$q" ]; do ${cut("n", "p", "q", step)}; ${o.skipZeroes ? "" : "t || return 1; "}zb "$p" "$n" || return 1; p=$((p + n)); done; }`;
  // A span of one kind: data in records of at most `record` bytes (a run without zero checks is one line).
  const span = `g(){ if [ "$1" = z ]; then zs "$2" "$3"; return; fi; gp=$2; gq=$(($2 + $3)); while [ "$gp" -lt "$gq" ]; do ${cut("gn", "gp", "gq", record)}; d "$gp" "$gn" || return 1; gp=$((gp + gn)); done; }`;
  // The scanner's lines joined while adjacent, of one kind and within a record; the end record only after the
  // scanner's `e` (a scanner that died early ends the stream without it).
  const send = [
    `S(){ sk=; so=0; sl=0; while read -r k o l; do`,
    `if [ "$k" = e ]; then { [ -z "$sk" ] || g "$sk" "$so" "$sl"; } && printf 'e\\n'; return; fi`,
    `if [ "$k" = "$sk" ] && [ $((so + sl)) -eq "$o" ] && [ $((sl + l)) -le ${record} ]; then sl=$((sl + l)); else { [ -z "$sk" ] || g "$sk" "$so" "$sl" || return 1; }; sk=$k; so=$o; sl=$l; fi`,
    `if [ "$sl" -ge ${record} ]; then g "$sk" "$so" "$sl" || return 1; sk=; fi`,
    `done; return 1; }`,
  ].join("; ");
  const functions = [scan, token, `zb(){ ${zeroBlock}; }`, dataRecord, zeroRecords, span, send].join("; ");
  return [
    read,
    ...(o.zeroes ? [isZero] : []),
    functions.replaceAll("do; ", "do "),
    `f=${dir}/f.$$; h=${dir}/h.$$; x=${dir}/x.$$; y=${dir}/y.$$`,
    `trap 'rm -f "$f" "$h" "$x" "$y"' EXIT`,
    `rm -f "$f" "$h" "$x" "$y" && mkfifo -m 600 "$f" || exit 1`,
    `${HASH_TOOLS[o.hash].command} <"$f" >"$h" & hp=$!`,
    // Progress to fd 4 (this command's stdout), tokens from fd 6 (its stdin): the sender's stdin is the scanner.
    "exec 4>&1 6<&0",
    // One tee carries the whole record stream into the hash: the target proves the same stream rebuilt from its
    // device (receiveRecordsCommand, proof "stream"). A tee per record cost a fork and a process per data record.
    `{ ${runs.join(" && ")} && echo e; } </dev/null 4>&- 6<&- | S | tee "$f" 4>&- 6<&- | ${o.sshCommand} 4>&- 6<&-; rc=$?`,
    `wait "$hp" || rc=1`,
    `[ "$rc" -eq 0 ] || exit "$rc"`,
    `[ ! -e "$x" ] || { echo "blockferry: source read failed" >&2; exit 1; }`,
    `printf 's %s\\n' "$(cat "$h")"`,
  ].join("; ");
}
