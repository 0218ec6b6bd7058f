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
 * The runs of `device`, in order, on stdout. With `hashToStderr` the BLAKE2b-512 of exactly the bytes sent
 * goes to stderr as a `b2sum` line (tee copies the stream to the hasher and to the channel). A failing read
 * ends the stream early: the caller counts bytes, so that is an error, never a short success.
 */
export function readRunsCommand(o: { device: string; runs: readonly ByteRun[]; hashToStderr: boolean }): string {
  const dev = device(o.device);
  const reads = `{ ${chain("r", runArgs(o.runs, "read run"))}; }`;
  if (!o.hashToStderr) return `${readFn(dev)}; ${reads}`;
  // tee opens /dev/fd/3, which Linux refuses for a socket (sshd may hand us a socketpair): `| cat` makes it a pipe.
  return `${readFn(dev)}; { ${reads} | tee /dev/fd/3 | b2sum >&2; } 3>&1 | cat`;
}

/** How the destination proves what it wrote, after fsync, reading the device itself with direct I/O. */
export type ReadBack =
  /** One hash line over the runs concatenated in order. */
  | { kind: "concat"; runs: readonly ByteRun[] }
  /** One hash line per `blockBytes` block of each run (the last block of a run may be shorter). */
  | { kind: "blocks"; runs: readonly ByteRun[]; blockBytes: number }
  | { kind: "none" };

function readBackScript(rb: ReadBack): string | undefined {
  if (rb.kind === "none" || rb.runs.length === 0) return undefined;
  const args = runArgs(rb.runs, "read-back run");
  if (rb.kind === "concat") return `{ ${chain("r", args)}; } | b2sum`;
  const block = uintText("hash block", rb.blockBytes, { min: 512n, multipleOf: 512n });
  // split runs the filter with $SHELL: pin it to sh so a login shell's rc files do not run once per block.
  return args.map((a) => `r ${a} | SHELL=/bin/sh split -b ${block} --filter=b2sum -`).join(" && ");
}

/**
 * Destination side of a batch: stdin is written to `runs` in order (direct I/O), `zeroRuns` are written from
 * /dev/zero without crossing the network, the device is fsynced, then the read-back hashes go to stdout.
 * Any failing step fails the whole command (no read-back output).
 */
export function writeRunsCommand(o: {
  device: string;
  runs: readonly ByteRun[];
  zeroRuns?: readonly ByteRun[];
  readBack: ReadBack;
  /** After the read-back hashes: one line per run, `z` when it reads back as all zero, `x` otherwise. */
  zeroCheck?: readonly ByteRun[];
}): string {
  const dev = device(o.device);
  const steps: string[] = [];
  const writes = runArgs(o.runs, "write run", true);
  const zeros = runArgs(o.zeroRuns ?? [], "zero run", true);
  if (writes.length + zeros.length === 0) throw new InvalidValueError("write runs", "empty", "[]", "nothing to write");
  if (writes.length) steps.push(chain("w", writes));
  if (zeros.length) steps.push(chain("z", zeros));
  steps.push(fsyncCmd(dev));
  const rb = readBackScript(o.readBack);
  if (rb) steps.push(`{ ${rb}; }`);
  const zc = zeroCheckScript(o.zeroCheck ?? []);
  if (zc) steps.push(`{ ${zc}; }`);
  return `${readFn(dev)}; ${writeFn(dev)}; ${zeroFn(dev)}; ${steps.join(" && ")}`;
}

/**
 * `cmp -n LEN - /dev/zero` compares at memory speed and stops at the first non-zero byte; a short read is
 * "not zero" too. Much cheaper than hashing zeroes.
 */
function zeroCheckScript(runs: readonly ByteRun[]): string | undefined {
  if (runs.length === 0) return undefined;
  return runArgs(runs, "zero-check run")
    .map((a) => `{ r ${a} | cmp -s -n ${a.split(" ")[1]} - /dev/zero && echo z || echo x; }`)
    .join("; ");
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

/** Read-back alone (a verify pass, or the source-side scan): hash lines on stdout. */
export function hashRunsCommand(o: { device: string; readBack: Exclude<ReadBack, { kind: "none" }> }): string {
  const dev = device(o.device);
  const rb = readBackScript(o.readBack);
  if (!rb) throw new InvalidValueError("hash runs", "empty", "[]", "nothing to hash");
  return `${readFn(dev)}; ${rb}`;
}
