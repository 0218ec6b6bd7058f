import { ExtentRangeError } from "./errors.ts";

// An ExtentMap is a set of chunk numbers held as sorted, disjoint, non-touching runs [first, count].
// Runs live interleaved in one typed array (Uint32Array while every run ends below 2^32, Float64Array
// beyond), so ten million runs cost 80 MB rather than the ~500 MB of ten million small objects.
// Maps are immutable: set operations return new maps. Use ExtentMapBuilder to add chunks in any order.

/** Exclusive upper bound for run ends: chunk numbers must stay exact doubles. */
export const MAX_CHUNK_END = Number.MAX_SAFE_INTEGER;

export type Run = [first: number, count: number];

const MAX_BATCH_RUNS = 1 << 20;

type RunStore = Uint32Array | Float64Array;

function allocRuns(runs: number, maxEnd: number): RunStore {
  return maxEnd < 2 ** 32 ? new Uint32Array(runs * 2) : new Float64Array(runs * 2);
}

function assertRun(first: number, count: number): void {
  if (!Number.isInteger(first) || !Number.isInteger(count) || first < 0 || count < 0 || first + count > MAX_CHUNK_END) {
    throw new ExtentRangeError(
      `invalid run [${first}, ${count}]: need integers, first >= 0, count >= 0, end <= 2^53-1`,
    );
  }
}

/** Appends runs in ascending order (first >= previous end), coalescing runs that touch. */
class RunWriter {
  private data: RunStore;
  private n = 0;
  private chunks = 0;
  private lastEnd = -1;
  /** The data is shared with a finished map: copy before the first write. */
  private shared = false;

  constructor(capacity: number, maxEnd: number) {
    this.data = allocRuns(Math.max(capacity, 4), maxEnd);
  }

  /** Continue appending after an existing map, without copying it until the first write. */
  static after(map: ExtentMap): RunWriter {
    const w = new RunWriter(0, 0);
    w.data = map.runs;
    w.n = map.runCount;
    w.chunks = map.chunkCount;
    w.lastEnd = map.runCount === 0 ? -1 : map.end;
    w.shared = true;
    return w;
  }

  get end(): number {
    return this.lastEnd;
  }

  get runCount(): number {
    return this.n;
  }

  push(first: number, count: number): void {
    if (count === 0) return;
    const end = first + count;
    if (this.shared || (end >= 2 ** 32 && this.data instanceof Uint32Array)) {
      this.reallocate(Math.ceil(this.n * 1.5) + 4, end);
    }
    const d = this.data;
    if (first === this.lastEnd) {
      d[2 * this.n - 1] = (d[2 * this.n - 1] as number) + count;
    } else {
      if (2 * this.n === d.length) this.reallocate(Math.ceil(this.n * 1.5) + 4, end);
      this.data[2 * this.n] = first;
      this.data[2 * this.n + 1] = count;
      this.n++;
    }
    this.lastEnd = end;
    this.chunks += count;
  }

  private reallocate(runs: number, newEnd: number): void {
    const wide = this.data instanceof Float64Array || newEnd >= 2 ** 32;
    const next = wide ? new Float64Array(Math.max(runs, 4) * 2) : new Uint32Array(Math.max(runs, 4) * 2);
    next.set(this.data.subarray(0, 2 * this.n));
    this.data = next;
    this.shared = false;
  }

  finish(): ExtentMap {
    const used = 2 * this.n;
    // Trim slack so a long-lived map holds only its runs.
    const data = this.data.length - used > 64 + used / 16 ? this.data.slice(0, used) : this.data;
    this.data = data;
    this.shared = true; // the map now owns the array
    return new ExtentMap(data, this.n, this.chunks);
  }
}

export class ExtentMap implements Iterable<Run> {
  static readonly EMPTY = new ExtentMap(new Uint32Array(0), 0, 0);

  /** Internal: callers build maps with ExtentMapBuilder, ExtentMap.fromRuns or ExtentMap.fromJSON. */
  constructor(
    /** @internal interleaved [first, count] pairs; never mutated once a map owns them */
    readonly runs: RunStore,
    /** Number of disjoint runs. */
    readonly runCount: number,
    /** Number of chunks in the set. */
    readonly chunkCount: number,
  ) {}

  /** Runs in any order, overlapping or not; overlaps are merged. */
  static fromRuns(runs: Iterable<readonly [number, number]>): ExtentMap {
    const b = new ExtentMapBuilder();
    for (const [first, count] of runs) b.add(first, count);
    return b.build();
  }

  static fromChunks(chunks: Iterable<number>): ExtentMap {
    const b = new ExtentMapBuilder();
    for (const c of chunks) b.add(c, 1);
    return b.build();
  }

  /** Accepts `[[first, count], ...]` in any order; throws ExtentRangeError on anything else. */
  static fromJSON(value: unknown): ExtentMap {
    if (!Array.isArray(value)) throw new ExtentRangeError("extent list must be an array of [first, count]");
    const b = new ExtentMapBuilder();
    for (const run of value) {
      if (!Array.isArray(run) || run.length !== 2 || typeof run[0] !== "number" || typeof run[1] !== "number") {
        throw new ExtentRangeError(`bad extent ${JSON.stringify(run)}: expected [first, count]`);
      }
      b.add(run[0], run[1]);
    }
    return b.build();
  }

  get isEmpty(): boolean {
    return this.runCount === 0;
  }

  /** Bytes this map's run storage occupies. */
  get storageBytes(): number {
    return this.runs.byteLength;
  }

  firstOf(i: number): number {
    return this.runs[2 * i] as number;
  }

  countOf(i: number): number {
    return this.runs[2 * i + 1] as number;
  }

  private endOf(i: number): number {
    return (this.runs[2 * i] as number) + (this.runs[2 * i + 1] as number);
  }

  /** One past the highest chunk, 0 when empty. */
  get end(): number {
    return this.runCount === 0 ? 0 : this.endOf(this.runCount - 1);
  }

  *[Symbol.iterator](): IterableIterator<Run> {
    for (let i = 0; i < this.runCount; i++) yield [this.firstOf(i), this.countOf(i)];
  }

  /** Allocation-free iteration, in ascending order. */
  forEachRun(fn: (first: number, count: number) => void): void {
    const d = this.runs;
    for (let i = 0; i < this.runCount; i++) fn(d[2 * i] as number, d[2 * i + 1] as number);
  }

  *chunks(): IterableIterator<number> {
    for (let i = 0; i < this.runCount; i++) {
      const end = this.endOf(i);
      for (let c = this.firstOf(i); c < end; c++) yield c;
    }
  }

  has(chunk: number): boolean {
    let lo = 0;
    let hi = this.runCount - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (chunk < this.firstOf(mid)) hi = mid - 1;
      else if (chunk >= this.endOf(mid)) lo = mid + 1;
      else return true;
    }
    return false;
  }

  byteCount(chunkBytes: number): number {
    return this.chunkCount * chunkBytes;
  }

  equals(other: ExtentMap): boolean {
    if (other.runCount !== this.runCount || other.chunkCount !== this.chunkCount) return false;
    for (let i = 0; i < 2 * this.runCount; i++) if (this.runs[i] !== other.runs[i]) return false;
    return true;
  }

  union(other: ExtentMap): ExtentMap {
    if (other.runCount === 0) return this;
    if (this.runCount === 0) return other;
    return unionRuns(this, other, undefined);
  }

  subtract(other: ExtentMap): ExtentMap {
    if (this.runCount === 0 || other.runCount === 0) return this;
    const w = new RunWriter(this.runCount + other.runCount, this.end);
    let j = 0;
    for (let i = 0; i < this.runCount; i++) {
      let s = this.firstOf(i);
      const e = this.endOf(i);
      while (j < other.runCount && other.endOf(j) <= s) j++;
      let k = j;
      while (k < other.runCount && other.firstOf(k) < e) {
        const bf = other.firstOf(k);
        if (bf > s) w.push(s, bf - s);
        s = Math.max(s, other.endOf(k));
        if (s >= e) break;
        k++;
      }
      if (s < e) w.push(s, e - s);
      j = k;
    }
    return w.finish();
  }

  intersect(other: ExtentMap): ExtentMap {
    if (this.runCount === 0 || other.runCount === 0) return ExtentMap.EMPTY;
    const w = new RunWriter(this.runCount + other.runCount, Math.min(this.end, other.end));
    let i = 0;
    let j = 0;
    while (i < this.runCount && j < other.runCount) {
      const ae = this.endOf(i);
      const be = other.endOf(j);
      const lo = Math.max(this.firstOf(i), other.firstOf(j));
      const hi = Math.min(ae, be);
      if (lo < hi) w.push(lo, hi - lo);
      if (ae <= be) i++;
      else j++;
    }
    return w.finish();
  }

  /** Runs split so none is longer than maxChunks (e.g. "ranges of at most X bytes" = X / chunkBytes). */
  *splitRuns(maxChunks: number): IterableIterator<Run> {
    assertPositive(maxChunks);
    for (let i = 0; i < this.runCount; i++) {
      const end = this.endOf(i);
      for (let f = this.firstOf(i); f < end; f += maxChunks) yield [f, Math.min(maxChunks, end - f)];
    }
  }

  /** Consecutive sub-maps of at most maxChunks chunks each, in order; their union is this map. */
  *batches(maxChunks: number): IterableIterator<ExtentMap> {
    assertPositive(maxChunks);
    let w = new RunWriter(16, this.end);
    let inBatch = 0;
    for (let i = 0; i < this.runCount; i++) {
      let f = this.firstOf(i);
      const end = this.endOf(i);
      while (f < end) {
        const take = Math.min(maxChunks - inBatch, end - f);
        w.push(f, take);
        f += take;
        inBatch += take;
        if (inBatch === maxChunks) {
          yield w.finish();
          w = new RunWriter(16, this.end);
          inBatch = 0;
        }
      }
    }
    if (inBatch > 0) yield w.finish();
  }

  toJSON(): Run[] {
    return [...this];
  }
}

function assertPositive(n: number): void {
  if (!Number.isSafeInteger(n) || n < 1) throw new ExtentRangeError(`batch size must be a positive integer, got ${n}`);
}

/**
 * Sorts chunk numbers in place. V8's TypedArray sort costs ~200 ns an element; below 2^32 a two-pass
 * LSD radix sort on 16-bit digits does the same in a few ns, which is most of the parse time for a
 * store whose exceptions are scattered over the origin.
 */
function sortChunkNumbers(values: Float64Array, maxEnd: number): void {
  if (maxEnd > 2 ** 32 || values.length < 256) {
    values.sort();
    return;
  }
  const n = values.length;
  const a = Uint32Array.from(values);
  const b = new Uint32Array(n);
  const pos = new Uint32Array(65_536);
  for (let i = 0; i < n; i++) {
    const k = (a[i] as number) & 0xffff;
    pos[k] = (pos[k] as number) + 1;
  }
  for (let d = 0, sum = 0; d < 65_536; d++) {
    const c = pos[d] as number;
    pos[d] = sum;
    sum += c;
  }
  for (let i = 0; i < n; i++) {
    const v = a[i] as number;
    const k = v & 0xffff;
    const at = pos[k] as number;
    b[at] = v;
    pos[k] = at + 1;
  }
  pos.fill(0);
  for (let i = 0; i < n; i++) {
    const k = (b[i] as number) >>> 16;
    pos[k] = (pos[k] as number) + 1;
  }
  for (let d = 0, sum = 0; d < 65_536; d++) {
    const c = pos[d] as number;
    pos[d] = sum;
    sum += c;
  }
  for (let i = 0; i < n; i++) {
    const v = b[i] as number;
    const k = v >>> 16;
    const at = pos[k] as number;
    a[at] = v;
    pos[k] = at + 1;
  }
  values.set(a);
}

/** Union of two maps; reports the first chunk present in both through onOverlap. */
function unionRuns(a: ExtentMap, b: ExtentMap, onOverlap: ((chunk: number) => void) | undefined): ExtentMap {
  const w = new RunWriter(a.runCount + b.runCount, Math.max(a.end, b.end));
  const ad = a.runs;
  const bd = b.runs;
  const an = 2 * a.runCount;
  const bn = 2 * b.runCount;
  let i = 0;
  let j = 0;
  let curF = 0;
  let curE = -1;
  while (i < an || j < bn) {
    let f: number;
    let c: number;
    if (j >= bn || (i < an && (ad[i] as number) <= (bd[j] as number))) {
      f = ad[i] as number;
      c = ad[i + 1] as number;
      i += 2;
    } else {
      f = bd[j] as number;
      c = bd[j + 1] as number;
      j += 2;
    }
    if (curE >= f) {
      if (f < curE && onOverlap) onOverlap(f);
      if (f + c > curE) curE = f + c;
    } else {
      if (curE >= 0) w.push(curF, curE - curF);
      curF = f;
      curE = f + c;
    }
  }
  if (curE >= 0) w.push(curF, curE - curF);
  return w.finish();
}

/**
 * Collects runs in any order. Runs are buffered, sorted and merged in batches, so memory follows the
 * number of resulting runs (plus one fixed batch), not the number of add() calls.
 */
export class ExtentMapBuilder {
  private pendingFirst: Float64Array;
  private pendingCount: Float64Array;
  private pending = 0;
  private pendingSorted = true;
  private pendingSingles = true;
  private pendingLastFirst = -1;
  private pendingMaxEnd = 0;
  /** Everything flushed so far. Batches that start past its end are appended in place. */
  private acc = new RunWriter(16, 0);
  private overlap: number | undefined;

  constructor(private batchRuns = 65_536) {
    this.pendingFirst = new Float64Array(batchRuns);
    this.pendingCount = new Float64Array(batchRuns);
  }

  add(first: number, count = 1): void {
    assertRun(first, count);
    if (count === 0) return;
    const p = this.pending;
    this.pendingFirst[p] = first;
    this.pendingCount[p] = count;
    if (first < this.pendingLastFirst) this.pendingSorted = false;
    if (count !== 1) this.pendingSingles = false;
    this.pendingLastFirst = first;
    if (first + count > this.pendingMaxEnd) this.pendingMaxEnd = first + count;
    this.pending = p + 1;
    if (this.pending === this.batchRuns) this.flush();
  }

  /** The first chunk seen that was added more than once (among runs merged so far), if any. */
  get firstOverlap(): number | undefined {
    this.flush();
    return this.overlap;
  }

  build(): ExtentMap {
    this.flush();
    return this.acc.finish();
  }

  private flush(): void {
    const n = this.pending;
    if (n === 0) return;
    const firsts = this.pendingFirst.subarray(0, n);
    const counts = this.pendingCount;
    let order: Uint32Array | undefined;
    if (!this.pendingSorted) {
      if (this.pendingSingles)
        sortChunkNumbers(firsts, this.pendingMaxEnd); // every count is 1: pairs stay intact
      else {
        order = new Uint32Array(n);
        for (let k = 0; k < n; k++) order[k] = k;
        order.sort((x, y) => (firsts[x] as number) - (firsts[y] as number));
      }
    }
    const w = new RunWriter(n, this.pendingMaxEnd);
    let curF = 0;
    let curE = -1;
    for (let k = 0; k < n; k++) {
      const idx = order ? (order[k] as number) : k;
      const f = firsts[idx] as number;
      const c = counts[idx] as number;
      if (curE >= f) {
        if (f < curE) this.noteOverlap(f);
        curE = Math.max(curE, f + c);
      } else {
        if (curE >= 0) w.push(curF, curE - curF);
        curF = f;
        curE = f + c;
      }
    }
    if (curE >= 0) w.push(curF, curE - curF);
    const batch = w.finish();
    if (this.acc.runCount === 0 || batch.firstOf(0) >= this.acc.end) {
      batch.forEachRun((f, c) => this.acc.push(f, c)); // in order: the common case, no copy of what we hold
    } else {
      const merged = unionRuns(this.acc.finish(), batch, (chunk) => this.noteOverlap(chunk));
      this.acc = RunWriter.after(merged);
      // Out-of-order input: grow batches with the map (up to 1M runs), so each merge pass over the map
      // is paid for by as many new runs and the total stays O(n log n) instead of O(n^2 / batch).
      const want = Math.min(MAX_BATCH_RUNS, merged.runCount);
      if (want > this.batchRuns) {
        this.batchRuns = want;
        this.pendingFirst = new Float64Array(want);
        this.pendingCount = new Float64Array(want);
      }
    }
    this.pending = 0;
    this.pendingSorted = true;
    this.pendingSingles = true;
    this.pendingLastFirst = -1;
    this.pendingMaxEnd = 0;
  }

  private noteOverlap(chunk: number): void {
    if (this.overlap === undefined) this.overlap = chunk;
  }
}
