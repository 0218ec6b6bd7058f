// Change-tracking benchmarks: parse a one-million-exception dm-snapshot store (16 MiB of metadata) from a
// file, against the I/O floor (the same area reads, no parsing) and a naive parser (readBigUInt64LE into
// an array of objects, sort, coalesce); then ExtentMap memory for ten million chunks.
// One JSON line per result. Run: pnpm bench changes
import { mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  areaChunk,
  ExtentMapBuilder,
  encodeExtentMap,
  fileByteSource,
  readCowStore,
} from "../packages/changes/src/index.ts";

const CHUNK = 4096;
const PER_AREA = CHUNK / 16;
const EXCEPTIONS = 1_000_000;
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

/** Bytes held by the JS heap and by typed arrays, after a full collection. */
function held(): number {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** Runs fn, sampling RSS every 5 ms; returns its value, seconds, and the RSS peak above the start. */
async function measure<T>(
  fn: () => Promise<T> | T,
): Promise<{ value: T; seconds: number; cpuSeconds: number; peakRssDelta: number }> {
  gc();
  const rss0 = process.memoryUsage().rss;
  let peak = rss0;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 5);
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const value = await fn();
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(c0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  clearInterval(timer);
  peak = Math.max(peak, process.memoryUsage().rss);
  return { value, seconds, cpuSeconds, peakRssDelta: peak - rss0 };
}

async function best<T>(runs: number, fn: () => Promise<T> | T) {
  let out = await measure(fn);
  for (let i = 1; i < runs; i++) {
    const m = await measure(fn);
    if (m.seconds < out.seconds) out = m;
  }
  return out;
}

/** A sparse COW file in the kernel layout: header, then only the metadata areas are written. */
async function writeStore(path: string, oldChunk: (k: number) => number): Promise<number> {
  const f = await open(path, "w");
  const header = Buffer.alloc(CHUNK);
  header.writeUInt32LE(0x70416e53, 0);
  header.writeUInt32LE(1, 4);
  header.writeUInt32LE(1, 8);
  header.writeUInt32LE(CHUNK / 512, 12);
  await f.write(header, 0, CHUNK, 0);
  const areas = Math.floor(EXCEPTIONS / PER_AREA) + 1;
  for (let a = 0; a < areas; a++) {
    const buf = Buffer.alloc(CHUNK);
    const loc = areaChunk(a, PER_AREA);
    for (let i = 0; i < PER_AREA; i++) {
      const k = a * PER_AREA + i;
      if (k >= EXCEPTIONS) break;
      buf.writeBigUInt64LE(BigInt(oldChunk(k)), i * 16);
      buf.writeBigUInt64LE(BigInt(loc + 1 + i), i * 16 + 8);
    }
    await f.write(buf, 0, CHUNK, loc * CHUNK);
  }
  const deviceBytes = (areaChunk(areas - 1, PER_AREA) + PER_AREA + 1) * CHUNK;
  await f.truncate(deviceBytes);
  await f.close();
  return areas;
}

/** The I/O floor: the same area reads with the same read-ahead, nothing parsed. */
async function readAreasOnly(path: string): Promise<number> {
  const f = await open(path, "r");
  let bytes = 0;
  try {
    const inFlight: Promise<{ bytesRead: number; buffer: Buffer }>[] = [];
    for (let a = 0; ; a++) {
      while (inFlight.length < 8) {
        const n = a + inFlight.length;
        inFlight.push(f.read(Buffer.alloc(CHUNK), 0, CHUNK, areaChunk(n, PER_AREA) * CHUNK));
      }
      const r = await (inFlight.shift() as Promise<{ bytesRead: number; buffer: Buffer }>);
      bytes += r.bytesRead;
      if (r.buffer.readBigUInt64LE(8) === 0n || r.buffer.readBigUInt64LE(CHUNK - 8) === 0n) break; // last area
    }
    await Promise.allSettled(inFlight);
  } finally {
    await f.close();
  }
  return bytes;
}

/** What one would write first: BigInt reads into objects, then sort and coalesce into [first, count] arrays. */
async function naiveParse(path: string): Promise<[number, number][]> {
  const f = await open(path, "r");
  const records: { oldChunk: number; newChunk: number }[] = [];
  try {
    for (let a = 0; ; a++) {
      const buf = Buffer.alloc(CHUNK);
      await f.read(buf, 0, CHUNK, areaChunk(a, PER_AREA) * CHUNK);
      let full = true;
      for (let i = 0; i < PER_AREA; i++) {
        const newChunk = Number(buf.readBigUInt64LE(i * 16 + 8));
        if (newChunk === 0) {
          full = false;
          break;
        }
        records.push({ oldChunk: Number(buf.readBigUInt64LE(i * 16)), newChunk });
      }
      if (!full) break;
    }
  } finally {
    await f.close();
  }
  records.sort((x, y) => x.oldChunk - y.oldChunk);
  const runs: [number, number][] = [];
  for (const r of records) {
    const last = runs[runs.length - 1];
    if (last && last[0] + last[1] === r.oldChunk) last[1]++;
    else runs.push([r.oldChunk, 1]);
  }
  return runs;
}

function emit(result: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

const r3 = (x: number) => Math.round(x * 1000) / 1000;
const mb = (x: number) => Math.round((x / 2 ** 20) * 10) / 10;

const dir = await mkdtemp(join(tmpdir(), "bf-bench-changes-"));
try {
  // Sequential: origin chunks 0..1M-1 written in order -> one extent. Scattered: every other chunk in a
  // shuffled order -> one million extents. Same store size, same reads.
  const perm = new Uint32Array(EXCEPTIONS).map((_, i) => i);
  for (let i = perm.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [perm[i], perm[j]] = [perm[j] as number, perm[i] as number];
  }
  const cases = {
    sequential: (k: number) => k,
    scattered: (k: number) => 2 * (perm[k] as number),
  };
  for (const [shape, oldChunk] of Object.entries(cases)) {
    const path = join(dir, `${shape}.cow`);
    const areas = await writeStore(path, oldChunk);
    await readAreasOnly(path); // warm the page cache for every contender
    const io = await best(5, () => readAreasOnly(path));
    const naive = await best(3, () => naiveParse(path));
    const before = held();
    const ours = await best(5, async () => {
      const source = await fileByteSource(path);
      try {
        return await readCowStore(source);
      } finally {
        await source.close();
      }
    });
    const retained = held() - before;
    if (ours.value.exceptionCount !== EXCEPTIONS || ours.value.extents.runCount !== naive.value.length) {
      throw new Error(`${shape}: parsers disagree`);
    }
    emit({
      name: `cow_store_1M_exceptions_${shape}`,
      ours_s: r3(ours.seconds),
      baseline_s: r3(naive.seconds),
      ratio: r3(ours.seconds / naive.seconds),
      baseline: "naive BigInt + array-of-objects parser",
      // CPU seconds of this process: wall time on a shared machine swings with the load average
      ours_cpu_s: r3(ours.cpuSeconds),
      baseline_cpu_s: r3(naive.cpuSeconds),
      load_average_1m: r3((await import("node:os")).loadavg()[0] ?? 0),
      io_floor_s: r3(io.seconds),
      ratio_to_io_floor: r3(ours.seconds / io.seconds),
      target_s: 0.5,
      metadata_mib: mb(areas * CHUNK),
      extents: ours.value.extents.runCount,
      ours_retained_mib: mb(retained),
      ours_peak_rss_delta_mib: mb(ours.peakRssDelta),
      naive_peak_rss_delta_mib: mb(naive.peakRssDelta),
      stored_bytes: encodeExtentMap(ours.value.extents).length,
    });
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}

// ExtentMap memory for ten million chunks: in ten long runs, and the worst case, ten million single-chunk
// runs (every other chunk). Baseline: a Set of the same chunk numbers, the obvious alternative.
for (const [shape, chunkAt] of [
  ["10_runs", (i: number) => Math.floor(i / 1_000_000) * 2_000_000 + (i % 1_000_000)],
  ["alternating_worst_case", (i: number) => 2 * i],
] as const) {
  const N = 10_000_000;
  const before = held();
  const ours = await measure(() => {
    const b = new ExtentMapBuilder();
    for (let i = 0; i < N; i++) b.add(chunkAt(i));
    return b.build();
  });
  const oursHeld = held() - before;
  const map = ours.value;
  const setBefore = held();
  const set = await measure(() => {
    const s = new Set<number>();
    for (let i = 0; i < N; i++) s.add(chunkAt(i));
    return s;
  });
  const setHeld = held() - setBefore;
  emit({
    name: `extent_map_10M_chunks_${shape}`,
    ours_s: r3(ours.seconds),
    baseline_s: r3(set.seconds),
    ratio: r3(ours.seconds / set.seconds),
    baseline: "Set<number> of the chunks",
    ours_cpu_s: r3(ours.cpuSeconds),
    baseline_cpu_s: r3(set.cpuSeconds),
    chunks: map.chunkCount,
    runs: map.runCount,
    ours_storage_mib: mb(map.storageBytes),
    ours_retained_mib: mb(oursHeld),
    ours_peak_rss_delta_mib: mb(ours.peakRssDelta),
    baseline_retained_mib: mb(setHeld),
    serialized_mib: mb(encodeExtentMap(map).length),
    under_100_mb: oursHeld < 100 * 2 ** 20,
  });
  set.value.clear();
}
