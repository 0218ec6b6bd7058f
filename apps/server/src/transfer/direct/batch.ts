// One direct batch: the source host reads its runs and streams records over its own SSH connection straight into
// the target's forced command (the receive side); the server only paces the source (one token per step) and
// compares the hash the source computed over what it read with the hash the target read back from its device.
import { createInterface } from "node:readline";
import {
  DIRECT_PROGRESS,
  DIRECT_SOURCE_HASH,
  directSendCommand,
  HASH_TOOLS,
  type HashTool,
  type ServerInstance,
} from "@blockferry/lvm";
import { RemoteCommandError } from "../../hosts/index.ts";
import { DirectLinkError, RemoteOutputError } from "../errors.ts";
import type { TransferHost } from "../host.ts";
import type { ByteRun } from "../plan.ts";
import { start, withProcesses } from "../processes.ts";
import type { RateLimiter } from "../rate-limiter.ts";

/** The direct data plane of one migration, as its access grant set it up. */
export interface DirectPath {
  jobId: number;
  /** The server instance whose access this is (names the source's directory). */
  instance?: ServerInstance;
  /** The disk of a set whose access this is (names the source's directory too). */
  disk?: number | undefined;
  /** Runs on the source; reaches the target's forced command (see access.ts). */
  sshCommand: string;
  /** The hash tool the target's forced command proves with; the source must have it too. */
  hash: HashTool;
}

export interface DirectBatchRequest {
  source: { host: TransferHost; device: string };
  path: DirectPath;
  runs: readonly ByteRun[];
  blockBytes: number;
  /** Check each block against zeroes on the source (a zero block is then never sent). */
  zeroes: boolean;
  /** The target reads zeroes (fresh thin LV): a zero block is not even written. */
  skipZeroes: boolean;
  bandwidth?: RateLimiter;
  onRead: (bytes: number) => void;
}

export interface DirectBatchCounts {
  bytesRead: number;
  /** On the direct path: the data bytes on the source-to-target link (the server's link carries none). */
  bytesOnWire: number;
  bytesSent: number;
  bytesZeroed: number;
  bytesSkipped: number;
}

/** OpenSSH's exit status for its own errors (the source script passes the ssh's status on). */
const SSH_FAILED = 255;

const MiB = 1 << 20;

/** Steps the source may run ahead of the server's pacing: enough to keep its pipe full. */
const TOKEN_WINDOW = 4;
/**
 * Without a bandwidth limit, tokens go back in pairs: one channel write per two steps (each write is a packet
 * this server encrypts and sends). The source still holds at least TOKEN_WINDOW - 1 tokens. Under a limit, one
 * token per step keeps the pacing as fine as it was.
 */
const TOKEN_GROUP = 2;
/**
 * The pacing step without a bandwidth limit: one progress line in and one token out per this many bytes (per
 * 4 MiB block they were this server's largest cost per GiB on the direct path). Progress still moves at least
 * every 32 MiB. Under a limit the step is the block, so the limit is kept in 4 MiB units; a limit set while a
 * batch runs paces it in steps of this size until the next batch (the same rate, in coarser bursts).
 */
export const UNLIMITED_STEP_BYTES = 32 * MiB;

/**
 * Runs the batch; resolves with the hash to journal when the target's read-back (the record stream rebuilt
 * from its device) equals the stream the source sent, bytes as it read them
 * (and every zero record reads back as zero), null when it differs. A stream that ended early, or output of
 * any other shape, is an error: never a success. A lost source-to-target link is a DirectLinkError.
 */
export async function directBatch(
  r: DirectBatchRequest,
  signal: AbortSignal,
  counts: DirectBatchCounts,
): Promise<string | null> {
  const tool = HASH_TOOLS[r.path.hash];
  const limited = Boolean(r.bandwidth?.bytesPerSecond);
  const planned = r.runs.reduce((n, [, length]) => n + length, 0);
  const command = directSendCommand({
    jobId: r.path.jobId,
    instance: r.path.instance,
    disk: r.path.disk,
    device: r.source.device,
    runs: r.runs,
    blockBytes: r.blockBytes,
    stepBytes: limited ? r.blockBytes : Math.max(r.blockBytes, UNLIMITED_STEP_BYTES),
    zeroes: r.zeroes,
    skipZeroes: r.skipZeroes,
    hash: r.path.hash,
    sshCommand: r.path.sshCommand,
  });
  const seen = { steps: 0, bytes: 0, data: 0, zeroRecords: 0 };
  const other: string[] = [];
  let sourceLine: string | null = null;
  await withProcesses(signal, async (sig, started) => {
    const p = await start(r.source.host, command, sig, started);
    // How many steps the batch has depends on where the source finds zeroes: tokens stop (and stdin ends) once
    // the source reported every planned byte; tokens it was given beyond its last step stay unread.
    let owed = 0;
    const grant = (n: number) => p.stdin.write("g\n".repeat(n));
    grant(TOKEN_WINDOW);
    const lines = createInterface({ input: p.stdout, crlfDelay: Number.POSITIVE_INFINITY });
    const reading = (async () => {
      for await (const line of lines) {
        const progress = DIRECT_PROGRESS.exec(line);
        if (progress) {
          const bytes = Number(progress[2]);
          seen.steps++;
          seen.bytes += bytes;
          counts.bytesRead += bytes;
          r.onRead(bytes);
          if (progress[1] === "d") {
            seen.data += bytes;
            counts.bytesSent += bytes;
            counts.bytesOnWire += bytes;
            // Pacing: the next block may start once this one's bytes fit the limit.
            await r.bandwidth?.take(bytes, sig);
          } else if (progress[1] === "z") {
            seen.zeroRecords++;
            counts.bytesZeroed += bytes;
          } else counts.bytesSkipped += bytes;
          // A skipped zero step took no token (it moves nothing): only data and zero-record steps are owed one.
          if (progress[1] !== "s") owed++;
          if (seen.bytes >= planned) {
            if (p.stdin.writable) p.stdin.end();
          } else if (owed >= (r.bandwidth?.bytesPerSecond ? 1 : TOKEN_GROUP)) {
            grant(owed);
            owed = 0;
          }
          continue;
        }
        const own = DIRECT_SOURCE_HASH.exec(line);
        if (own) sourceLine = own[1] ?? null;
        else if (line.length > 0) other.push(line);
      }
    })();
    await Promise.all([reading, p.done]);
  }).catch((e: unknown) => {
    // ssh exits 255 on its own failures (connect, host key, ServerAlive timeout), never for the forced command's.
    if (e instanceof RemoteCommandError && e.exitCode === SSH_FAILED)
      throw new DirectLinkError(
        r.source.host.name,
        e.stderrTail.trim().split("\n").slice(-2).join(" | ") || "its ssh exited 255 without a word",
      );
    throw e;
  });
  if (seen.bytes !== planned)
    throw new DirectLinkError(
      r.source.host.name,
      `the batch ended early: ${seen.bytes}/${planned} bytes in ${seen.steps} steps`,
    );
  // The target's hash of the record stream rebuilt from its device, then a line per zero record.
  const want = 1 + seen.zeroRecords;
  const sourceHash = sourceLine === null ? null : (tool.line.exec(sourceLine)?.[1] ?? null);
  if (other.length !== want || sourceHash === null || !tool.line.test(other[0] ?? ""))
    throw new RemoteOutputError(
      `direct batch from ${r.source.host.name}: expected ${want} read-back lines and the source hash, got ${JSON.stringify(other.join("\n").slice(0, 300))}`,
    );
  const hashOk = tool.line.exec(other[0] ?? "")?.[1] === sourceHash;
  const zerosOk = other.slice(1).every((line) => line === "z");
  return hashOk && zerosOk ? sourceHash : null;
}
