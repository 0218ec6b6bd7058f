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
 * Destination side of a batch, driven by records on stdin so the server decides per block what crosses the
 * network: `d OFFSET LENGTH\n` followed by exactly LENGTH bytes (written with direct I/O), `z OFFSET LENGTH\n`
 * (LENGTH zero bytes written from /dev/zero: nothing sent), and `e\n` to end. A stream that ends without its
 * end record fails. Then fsync, then the proof, read from the device itself with direct I/O: one hash line
 * (`hash`, default b2sum), then one line per zero record, `z` when it reads back as all zero and `x` otherwise.
 * The hash line covers, with `proof: "data"` (the relay: the server hashes the data it sends), the data records
 * concatenated in order (when there were any), read back after the fsync; with `proof: "stream"` (the direct
 * path: the source hashes the stream it sends, see directSendCommand), the whole stream rebuilt from the device:
 * every record's header line in order, each data record's bytes read back (direct I/O) as soon as its direct-I/O
 * write returned, while the next records arrive, and the end record; the hash line is printed only after the
 * fsync. Its fifo and hash output live in `workDir` (private, removed by whoever owns it). Offsets and lengths
 * are checked as digits before use; the device path is validated and quoted here.
 */
export function receiveRecordsCommand(
  o: { device: string; hash?: HashTool } & ({ proof?: "data" } | { proof: "stream"; workDir: string }),
): string {
  const dev = device(o.device);
  const hash = HASH_TOOLS[o.hash ?? "b2sum"].command;
  const work = o.proof === "stream" ? shQuote(validateRemotePath(o.workDir, "receive work directory")) : null;
  const bad = `{ echo "blockferry: bad record: $k $o $l" >&2; exit 65; }`;
  // Stream proof: echo, not printf (a forced command holds no backslash; these words have none for echo).
  const start = work
    ? [
        `rb=${work}/rb.$$; rh=${work}/rh.$$; rm -f "$rb" "$rh" && mkfifo -m 600 "$rb" || exit 1`,
        `${hash} <"$rb" >"$rh" & hp=$!`,
        'exec 5>"$rb"',
      ]
    : [];
  // Data proof: adjacent data records (one per block) are read back as one run, one dd per run, not per record.
  const remember = work
    ? 'echo "d $o $l" >&5; r "$o" "$l" >&5 || exit 1'
    : `if [ -n "$po" ] && [ $((po + pl)) -eq "$o" ]; then pl=$((pl + l)); else { [ -z "$po" ] || D="$D $po:$pl"; }; po=$o; pl=$l; fi`;
  const proof = work
    ? ['wait "$hp" || exit 1', 'cat "$rh" || exit 1', 'rm -f "$rb" "$rh"']
    : [
        `[ -z "$po" ] || D="$D $po:$pl"`,
        `if [ -n "$D" ]; then for x in $D; do r "\${x%:*}" "\${x#*:}" || exit 1; done | ${hash} || exit 1; fi`,
      ];
  const loop = [
    ...start,
    "D=; Z=; k=; po=; pl=0",
    "while read -r k o l; do",
    `  case $k in e) break ;; d|z) ;; *) ${bad} ;; esac`,
    `  case $o in ''|*[!0-9]*) ${bad} ;; esac`,
    `  case $l in ''|0|*[!0-9]*) ${bad} ;; esac`,
    `  if [ "$k" = z ]; then z "$o" "$l" || exit 1; Z="$Z $o:$l"; ${work ? 'echo "z $o $l" >&5; ' : ""}continue; fi`,
    `  w "$o" "$l" || exit 1`,
    `  ${remember}`,
    "done",
    `[ "$k" = e ] || { echo "blockferry: stream ended before its end record" >&2; exit 66; }`,
    ...(work ? ["echo e >&5", "exec 5>&-"] : []),
    `${fsyncCmd(dev)} || exit 1`,
    ...proof,
    `for x in $Z; do r "\${x%:*}" "\${x#*:}" | cmp -s -n "\${x#*:}" - /dev/zero && echo z || echo x; done`,
  ];
  // One line (a loop body's first command follows `do` after a space): the same text serves as an
  // authorized_keys forced command, which cannot hold a newline.
  return `${readFn(dev)}; ${writeFn(dev)}; ${zeroFn(dev)}; ${loop.join("; ").replaceAll("do; ", "do ")}`;
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
