// Verification, the one module every caller uses: byte ranges re-read on both hosts from the devices themselves,
// and the ranges that differ named. Long ranges: dd with direct I/O into the hash tool both hosts have, one exec
// per batch on each host. Short scattered ranges (a typical final delta) would cost a dd each: both devices are
// read over SFTP after their page cache was dropped (so the reads come from the devices, as in sftp-batch.ts)
// and compared here byte for byte, which needs no hash at all.
import {
  dropCacheCommand,
  HASH_TOOLS,
  type HashTool,
  hashRunsCommand,
  MAX_RUNS_PER_COMMAND,
  validateRemotePath,
} from "@blockferry/lvm";
import type { RemoteFile } from "../hosts/index.ts";
import type { TransferEndpoint } from "./engine.ts";
import { RemoteOutputError, TruncatedStreamError } from "./errors.ts";
import { probeHashTool } from "./hash-tool.ts";
import type { TransferHost } from "./host.ts";
import { type ByteRun, batchRanges, coalesce } from "./plan.ts";
import { eachWithLimit } from "./pool.ts";
import { start, startBoth, withProcesses } from "./processes.ts";
import { readAllText } from "./relay.ts";
import { settleWithin } from "./settle.ts";
import { GRACE_MS, IN_FLIGHT, piecesOf, SFTP_RUN_BYTES } from "./sftp-batch.ts";

const MiB = 1 << 20;

export interface VerifyOptions {
  source: TransferEndpoint;
  target: TransferEndpoint;
  /** Disjoint ranges in ascending order, multiples of 512 bytes. */
  ranges: readonly ByteRun[];
  signal?: AbortSignal;
  /** dd batches in flight (one exec per host each). Default 2. */
  concurrency?: number;
  /** Upper bound of one dd batch. Default 256 MiB. */
  batchBytes?: number;
  /** Below this mean range length both devices are read over SFTP. Default SFTP_RUN_BYTES (1 MiB). */
  sftpRunBytes?: number;
}

export interface VerifyResult {
  rangesChecked: number;
  bytesChecked: number;
  /** Ranges whose bytes differ (on the dd path every range of a differing batch), in offset order. */
  mismatched: ByteRun[];
  seconds: number;
}

/** Re-reads `ranges` on both hosts and reports those that differ. */
export async function verifyRanges(o: VerifyOptions): Promise<VerifyResult> {
  const t0 = performance.now();
  const signal = o.signal ?? new AbortController().signal;
  signal.throwIfAborted();
  const bytes = o.ranges.reduce((a, [, l]) => a + l, 0);
  let mismatched: ByteRun[] = [];
  if (o.ranges.length > 0)
    mismatched =
      bytes / o.ranges.length < (o.sftpRunBytes ?? SFTP_RUN_BYTES)
        ? await compareOverSftp(o, signal)
        : await compareHashes(o, signal);
  mismatched.sort((x, y) => x[0] - y[0]);
  return {
    rangesChecked: o.ranges.length,
    bytesChecked: bytes,
    mismatched,
    seconds: (performance.now() - t0) / 1000,
  };
}

async function compareHashes(o: VerifyOptions, signal: AbortSignal): Promise<ByteRun[]> {
  const [a, b] = await Promise.all([probeHashTool(o.source.host, signal), probeHashTool(o.target.host, signal)]);
  // Both hosts must print the same hash: SHA-256 where both have openssl (half b2sum's CPU), b2sum otherwise.
  const tool: HashTool = a === "openssl-sha256" && b === "openssl-sha256" ? a : "b2sum";
  const rows = o.ranges.map(([offset, length]) => ({ offset, length }));
  const batches = batchRanges(rows, o.batchBytes ?? 256 * MiB, MAX_RUNS_PER_COMMAND);
  const mismatched: ByteRun[] = [];
  await eachWithLimit(batches, o.concurrency ?? 2, signal, async (batch, _i, batchSignal) => {
    const readBack = { kind: "concat" as const, runs: coalesce(batch.map((r) => [r.offset, r.length] as const)) };
    const [sa, da] = await withProcesses(batchSignal, async (sig, started) => {
      const [src, dst] = await startBoth(
        sig,
        started,
        [o.source.host, hashRunsCommand({ device: o.source.device, readBack, hash: tool })],
        [o.target.host, hashRunsCommand({ device: o.target.device, readBack, hash: tool })],
      );
      src.stdin.end();
      dst.stdin.end();
      const [so, dout] = await Promise.all([readAllText(src.stdout), readAllText(dst.stdout), src.done, dst.done]);
      return [hashOf(so, tool, o.source.host.name), hashOf(dout, tool, o.target.host.name)];
    });
    if (sa !== da) mismatched.push(...batch.map((r) => [r.offset, r.length] as const));
  });
  return mismatched;
}

function hashOf(out: string, tool: HashTool, host: string): string {
  const hash = HASH_TOOLS[tool].line.exec(out.trim())?.[1];
  if (!hash)
    throw new RemoteOutputError(`${host} verify: expected one ${tool} line, got ${JSON.stringify(out.slice(0, 300))}`);
  return hash;
}

async function compareOverSftp(o: VerifyOptions, signal: AbortSignal): Promise<ByteRun[]> {
  const ends = [o.source, o.target].map((e) => ({ ...e, path: validateRemotePath(e.device, "transfer device") }));
  const opened = ends.map((e) => e.host.openFile(e.path, "r"));
  try {
    const [src, dst] = (await Promise.all(opened)) as [RemoteFile, RemoteFile];
    // Dropped while our handles keep the devices open (a block device's last close drops its cache anyway).
    await Promise.all(ends.map((e) => runToEnd(e.host, dropCacheCommand({ device: e.path }), signal)));
    const differs = new Set<number>();
    await eachWithLimit(
      piecesOf(o.ranges),
      IN_FLIGHT,
      signal,
      async (p) => {
        const [a, b] = await Promise.all([src.read(p.offset, p.length), dst.read(p.offset, p.length)]);
        if (a.length !== p.length) throw new TruncatedStreamError(o.source.host.name, p.length, a.length);
        // A short target read differs too.
        if (!a.equals(b)) differs.add(p.run);
      },
      GRACE_MS,
    );
    return [...differs].map((i) => o.ranges[i] as ByteRun);
  } finally {
    await Promise.allSettled(opened.map(async (f) => settleWithin((await f).close(), GRACE_MS)));
  }
}

async function runToEnd(host: TransferHost, command: string, signal: AbortSignal): Promise<void> {
  await withProcesses(signal, async (sig, started) => {
    const p = await start(host, command, sig, started);
    p.stdin.end();
    await Promise.all([readAllText(p.stdout), p.done]);
  });
}
