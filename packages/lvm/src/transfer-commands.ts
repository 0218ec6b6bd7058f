// Command templates for the transfer engine: dd moves bytes with direct I/O, b2sum (BLAKE2b-512, the fastest
// hash in coreutils) proves them. Each template is ONE POSIX sh command line; the runs it touches are numbers
// checked here, the device path is validated and quoted. A tiny shell function per template keeps a batch of
// hundreds of runs to a few kilobytes of command text.
import { InvalidValueError } from "./errors.ts";
import { uintText } from "./numbers.ts";
import { validateRemotePath } from "./paths.ts";
import { shQuote } from "./quote.ts";

/** [byte offset, byte length]; both multiples of 512 (direct I/O). */
export type ByteRun = readonly [offset: number, length: number];

/** dd block size: large requests, and dd clamps the last read/write of a run to the bytes left (count_bytes). */
export const TRANSFER_DD_BS = 1 << 20;
/** Keeps one command line well under the SSH packet limit. */
export const MAX_RUNS_PER_COMMAND = 512;
/** Output line of `b2sum` for stdin: 128 hex digits, two spaces, '-'. */
export const B2SUM_LINE = /^([0-9a-f]{128}) {2}-$/;

/**
 * How a target proves what it wrote. b2sum (BLAKE2b-512) is the fastest hash coreutils has (~2 CPU-s/GiB);
 * where the `openssl` tool exists its SHA-256 uses the CPU's SHA instructions (~0.85 CPU-s/GiB), and the
 * server's side of it is as cheap: together half the cost of verification. `node` names the same hash in Node.
 */
export const HASH_TOOLS = {
  b2sum: { command: "b2sum", line: B2SUM_LINE, node: "blake2b512" },
  "openssl-sha256": { command: "openssl dgst -sha256 -r", line: /^([0-9a-f]{64}) \*stdin$/, node: "sha256" },
} as const;
export type HashTool = keyof typeof HASH_TOOLS;

/**
 * Prints `openssl-sha256` when the host's openssl can hash stdin, else `b2sum` when it has b2sum, else `none`.
 * The transfer and the prechecks both run this one probe, so a host passes prechecks only with a tool the
 * transfer will use.
 */
export const HASH_TOOL_PROBE_COMMAND =
  "if openssl dgst -sha256 -r </dev/null >/dev/null 2>&1; then echo openssl-sha256; elif command -v b2sum >/dev/null 2>&1; then echo b2sum; else echo none; fi";

function device(path: string): string {
  return shQuote(validateRemotePath(path, "transfer device"));
}

function runArgs(runs: readonly ByteRun[], what: string, allowEmpty = false): string[] {
  if (runs.length === 0 && !allowEmpty) throw new InvalidValueError(what, "empty", "[]", "needs at least one run");
  if (runs.length > MAX_RUNS_PER_COMMAND)
    throw new InvalidValueError(
      what,
      "too-long",
      `${runs.length} runs`,
      `at most ${MAX_RUNS_PER_COMMAND} runs per command`,
    );
  return runs.map(([offset, length]) => {
    const o = uintText(`${what} offset`, offset, { multipleOf: 512n });
    const l = uintText(`${what} length`, length, { min: 512n, multipleOf: 512n });
    return `${o} ${l}`;
  });
}

const DD_OPTS = `bs=${TRANSFER_DD_BS} status=none`;
const readFn = (dev: string) =>
  `r(){ dd if=${dev} iflag=direct,skip_bytes,count_bytes ${DD_OPTS} skip="$1" count="$2"; }`;
const writeFn = (dev: string) =>
  `w(){ dd of=${dev} oflag=direct,seek_bytes iflag=fullblock,count_bytes conv=notrunc,nocreat ${DD_OPTS} seek="$1" count="$2"; }`;
const zeroFn = (dev: string) =>
  `z(){ dd if=/dev/zero of=${dev} oflag=direct,seek_bytes iflag=count_bytes conv=notrunc,nocreat ${DD_OPTS} seek="$1" count="$2"; }`;
/** fsync on a fresh descriptor flushes the file (or the block device's write cache) to stable storage. */
const fsyncCmd = (dev: string) => `dd if=/dev/null of=${dev} conv=notrunc,nocreat,fsync count=0 status=none`;
const chain = (fn: string, args: string[]) => args.map((a) => `${fn} ${a}`).join(" && ");

/**
 * The runs of `device`, in order, on stdout (the server hashes what arrives), gzip-compressed (fastest level)
 * when asked. A failing read ends the stream early: the caller counts the bytes, so that is an error, never a
 * short success.
 */
export function readRunsCommand(o: { device: string; runs: readonly ByteRun[]; gzip?: boolean }): string {
  const reads = chain("r", runArgs(o.runs, "read run"));
  return `${readFn(device(o.device))}; ${o.gzip ? `{ ${reads}; } | gzip -1 -c` : reads}`;
}

/** How a device proves what it holds: one hash line over the runs concatenated in order. */
export type ReadBack = { kind: "concat"; runs: readonly ByteRun[] };

/** Record kinds of the stream `receiveRecordsCommand` reads. */
export const RECORD = { data: "d", zero: "z", end: "e" } as const;

/**
 * Destination side of a batch, driven by records on stdin so the sender decides per block what crosses the
 * network: `d OFFSET LENGTH\n` followed by exactly LENGTH bytes (written with direct I/O), `z OFFSET LENGTH\n`
 * (LENGTH zero bytes written from /dev/zero: nothing sent), and `e\n` to end. A stream that ends without its
 * end record fails. Then fsync, then the proof, read from the device itself with direct I/O: one hash line
 * (`hash`, default b2sum), then one line per zero record, `z` when it reads back as all zero and `x` otherwise.
 * The hash line covers, with `proof: "data"` (the relay: the server hashes the data it sends), the data records
 * concatenated in order (when there were any), read back after the fsync; with `proof: "stream"` (the direct
 * path: the source hashes the stream it sends, see directSendCommand), the whole stream rebuilt from the device
 * (receiveStreamProof). Offsets and lengths are checked as digits before use; the device path is validated and
 * quoted here.
 */
export function receiveRecordsCommand(
  o: { device: string; hash?: HashTool } & ({ proof?: "data" } | { proof: "stream"; workDir: string }),
): string {
  const dev = device(o.device);
  const hash = HASH_TOOLS[o.hash ?? "b2sum"].command;
  const fns = `${readFn(dev)}; ${writeFn(dev)}; ${zeroFn(dev)}`;
  if (o.proof === "stream") return `${fns}; ${receiveStreamProof(dev, hash, o.workDir)}`;
  const loop = [
    "D=; Z=; k=; po=; pl=0",
    "while read -r k o l; do",
    ...checkRecord,
    '  if [ "$k" = z ]; then z "$o" "$l" || exit 1; Z="$Z $o:$l"; continue; fi',
    '  w "$o" "$l" || exit 1',
    // Adjacent data records (one per block) are read back as one run, one dd per run, not per record.
    '  if [ -n "$po" ] && [ $((po + pl)) -eq "$o" ]; then pl=$((pl + l)); else { [ -z "$po" ] || D="$D $po:$pl"; }; po=$o; pl=$l; fi',
    "done",
    endRecord,
    `${fsyncCmd(dev)} || exit 1`,
    '[ -z "$po" ] || D="$D $po:$pl"',
    `if [ -n "$D" ]; then for x in $D; do r "\${x%:*}" "\${x#*:}" || exit 1; done | ${hash} || exit 1; fi`,
    zeroChecks("for x in $Z; do"),
  ];
  // One line (a loop body's first command follows `do` after a space).
  return `${fns}; ${oneLine(loop)}`;
}

/** A record's kind, offset and length, checked before use (inside `while read -r k o l`). */
const BAD_RECORD = `{ echo "blockferry: bad record: $k $o $l" >&2; exit 65; }`;
const checkRecord = [
  `  case $k in e) break ;; d|z) ;; *) ${BAD_RECORD} ;; esac`,
  `  case $o in ''|*[!0-9]*) ${BAD_RECORD} ;; esac`,
  `  case $l in ''|0|*[!0-9]*) ${BAD_RECORD} ;; esac`,
];
const endRecord = `[ "$k" = e ] || { echo "blockferry: stream ended before its end record" >&2; exit 66; }`;
/** After the fsync: each zero record read back from the device, `z` when all zero, `x` otherwise. */
const zeroChecks = (loop: string, done = "done") =>
  `${loop} r "\${x%:*}" "\${x#*:}" | cmp -s -n "\${x#*:}" - /dev/zero && echo z || echo x; ${done}`;
const oneLine = (parts: string[]) => parts.join("; ").replaceAll("do; ", "do ");

/**
 * The direct path's receive side after its functions (`r`, `w`, `z`): the records written in order by this shell,
 * and read back by a second one, so that each data record's read-back (direct I/O, started once its direct-I/O
 * write returned) runs while the next records arrive and are written. The reader rebuilds the stream from the
 * device (every record's header line in order, each data record's bytes as read back, the end record) into the
 * hash tool, and lists the zero records. Only after both ended, the end record seen, and the fsync: the hash line,
 * then the zero records' checks. One line, no backslash (a forced command): echo, never printf. Its fifos and
 * files live in `workDir` (private, removed by whoever owns it).
 */
function receiveStreamProof(dev: string, hash: string, workDir: string): string {
  const work = shQuote(validateRemotePath(workDir, "receive work directory"));
  // Reader: one `KIND OFFSET LENGTH` line per record written (checked by the writer), then `e`. It ends without
  // the end record in the hash when the writer stopped early, and fails when a read-back fails.
  const reader = [
    "k=; while read -r k o l; do",
    '  [ "$k" != e ] || break',
    '  echo "$k $o $l" >&5',
    '  if [ "$k" = d ]; then r "$o" "$l" >&5 || exit 1; else echo "$o:$l"; fi',
    "done",
    '[ "$k" = e ] || exit 1',
    "echo e >&5",
  ];
  return oneLine([
    `rb=${work}/rb.$$; rh=${work}/rh.$$; rq=${work}/rq.$$; rz=${work}/rz.$$`,
    'rm -f "$rb" "$rh" "$rq" "$rz" && mkfifo -m 600 "$rb" "$rq" || exit 1',
    `${hash} <"$rb" >"$rh" & hp=$!`,
    'exec 5>"$rb"',
    `{ ${oneLine(reader)}; } <"$rq" >"$rz" & rp=$!`,
    'exec 5>&- 7>"$rq"',
    "k=; while read -r k o l; do",
    ...checkRecord,
    '  if [ "$k" = z ]; then z "$o" "$l" || exit 1; else w "$o" "$l" || exit 1; fi',
    '  echo "$k $o $l" >&7',
    "done",
    endRecord,
    "echo e >&7",
    "exec 7>&-",
    'wait "$rp" || exit 1',
    `${fsyncCmd(dev)} || exit 1`,
    'wait "$hp" || exit 1',
    'cat "$rh" || exit 1',
    zeroChecks("while IFS= read -r x; do", 'done <"$rz"'),
    'rm -f "$rb" "$rh" "$rq" "$rz"',
  ]);
}

/**
 * Which `blockBytes` blocks of a span are all zero, one line per block in order: `z` (zero) or `d` (data).
 * A last block shorter than blockBytes always reports `d` (it is then simply sent), as does a failed read.
 */
export function zeroScanCommand(o: { device: string; span: ByteRun; blockBytes: number }): string {
  const dev = device(o.device);
  const [arg] = runArgs([o.span], "scan span");
  const block = uintText("scan block", o.blockBytes, { min: 512n, multipleOf: 512n });
  return `${readFn(dev)}; r ${arg} | SHELL=/bin/sh split -b ${block} --filter=${shQuote(`cmp -s -n ${block} - /dev/zero && echo z || echo d`)} -`;
}

/**
 * Drops the device's page cache (whole device: `count=0` with `iflag=nocache` is coreutils' "only drop the
 * cache", posix_fadvise DONTNEED over the whole file; dd exits non-zero if the kernel refuses). The SFTP
 * write path runs it once per batch after fsync, so its read-back misses the cache and comes from the device.
 * `fsyncFirst` fsyncs the device first, for servers without fsync@openssh.com (dirty pages cannot be dropped).
 */
export function dropCacheCommand(o: { device: string; fsyncFirst?: boolean }): string {
  const dev = device(o.device);
  const drop = `dd if=${dev} iflag=nocache count=0 status=none`;
  return o.fsyncFirst ? `${fsyncCmd(dev)} && ${drop}` : drop;
}

/**
 * `dropCacheCommand` started ahead and held until the server cues it with a line on stdin, so a batch's
 * critical path pays a line instead of a process start: `drop` after the server's own fsync, `fsync-drop`
 * where the server could not fsync. Anything else, or stdin closing first, runs nothing and fails.
 */
export function cuedDropCacheCommand(o: { device: string }): string {
  const bad = `{ echo "blockferry: bad cue: $cue" >&2; exit 65; }`;
  const drop = dropCacheCommand(o);
  const fsyncDrop = dropCacheCommand({ ...o, fsyncFirst: true });
  return `IFS= read -r cue || ${bad}; case $cue in drop) ${drop} ;; fsync-drop) ${fsyncDrop} ;; *) ${bad} ;; esac`;
}

/** Read-back alone (a verify): the runs read with direct I/O, concatenated, one hash line (`hash`, default b2sum). */
export function hashRunsCommand(o: { device: string; readBack: ReadBack; hash?: HashTool }): string {
  const dev = device(o.device);
  if (o.readBack.runs.length === 0) throw new InvalidValueError("hash runs", "empty", "[]", "nothing to hash");
  const reads = chain("r", runArgs(o.readBack.runs, "read-back run"));
  return `${readFn(dev)}; { ${reads}; } | ${HASH_TOOLS[o.hash ?? "b2sum"].command}`;
}
