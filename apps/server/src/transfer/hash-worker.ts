// Hashing off the relay thread. One Node thread relays at most ~600 MB/s and BLAKE2b-512 costs ~1.4 CPU-s/GiB:
// on the relay thread it would cap a copy near 330 MB/s. A worker thread hashes in parallel; the relay copies
// each byte once into a 1 MiB staging buffer whose memory is handed over (transferred, not copied again).
// At most MAX_QUEUED bytes wait in the worker, so a slow hash slows the relay instead of growing memory.
import { once } from "node:events";
import { Worker } from "node:worker_threads";

/** Node's names of the hashes the hosts' tools print: b2sum, openssl/sha256sum. */
export type HashAlgorithm = "blake2b512" | "sha256";

const STAGE_BYTES = 1 << 20;
const MAX_QUEUED = 8 << 20;

// Plain CommonJS evaluated by the worker: no file to locate next to a bundle.
const WORKER_SOURCE = `
const { parentPort } = require("node:worker_threads");
const { createHash } = require("node:crypto");
const open = new Map();
parentPort.on("message", (m) => {
  if (m.op === "update") {
    let h = open.get(m.id);
    if (!h) open.set(m.id, (h = createHash(m.algorithm)));
    h.update(new Uint8Array(m.data, 0, m.length));
    parentPort.postMessage({ id: m.id, done: m.length });
  } else if (m.op === "digest") {
    const h = open.get(m.id) ?? createHash(m.algorithm);
    open.delete(m.id);
    parentPort.postMessage({ id: m.id, hex: h.digest("hex") });
  } else open.delete(m.id);
});`;

type Reply = { id: number; done?: number; hex?: string };

class HashWorker {
  private readonly worker = new Worker(WORKER_SOURCE, { eval: true });
  private readonly waiting = new Map<number, (r: Reply) => void>();
  private nextId = 1;

  constructor() {
    this.worker.on("message", (r: Reply) => this.waiting.get(r.id)?.(r));
    this.worker.unref(); // alive only while a hash is open (after `on`: a message listener refs it again)
  }

  open(algorithm: string): OffThreadHash {
    const id = this.nextId++;
    return new OffThreadHash(id, algorithm, this.worker, (fn) => {
      if (fn) this.waiting.set(id, fn);
      else this.waiting.delete(id);
      if (this.waiting.size > 0) this.worker.ref();
      else this.worker.unref();
    });
  }
}

/** An incremental hash computed on the worker thread; `update` resolves once the worker has room. */
export class OffThreadHash {
  private stage = Buffer.allocUnsafeSlow(STAGE_BYTES);
  private staged = 0;
  private queued = 0;
  private readonly progress = new EventTarget();
  private digestWaiter: ((hex: string) => void) | null = null;

  constructor(
    private readonly id: number,
    private readonly algorithm: string,
    private readonly worker: Worker,
    private readonly listen: (fn: ((r: Reply) => void) | null) => void,
  ) {
    listen((r) => {
      if (r.done !== undefined) {
        this.queued -= r.done;
        this.progress.dispatchEvent(new Event("done"));
      }
      if (r.hex !== undefined) {
        listen(null);
        this.digestWaiter?.(r.hex);
      }
    });
  }

  async update(data: Buffer): Promise<void> {
    let at = 0;
    while (at < data.length) {
      const n = Math.min(data.length - at, STAGE_BYTES - this.staged);
      data.copy(this.stage, this.staged, at, at + n);
      this.staged += n;
      at += n;
      if (this.staged === STAGE_BYTES) await this.post();
    }
  }

  async digest(): Promise<string> {
    if (this.staged > 0) await this.post();
    const hex = new Promise<string>((resolve) => (this.digestWaiter = resolve));
    this.worker.postMessage({ op: "digest", id: this.id, algorithm: this.algorithm });
    return hex;
  }

  /** Forget a hash that will never be finished (a failed batch). */
  discard(): void {
    this.listen(null);
    this.worker.postMessage({ op: "drop", id: this.id });
  }

  private async post(): Promise<void> {
    while (this.queued >= MAX_QUEUED) await once(this.progress, "done");
    const data = this.stage.buffer;
    const length = this.staged;
    this.queued += length;
    this.worker.postMessage({ op: "update", id: this.id, algorithm: this.algorithm, data, length }, [data]);
    this.stage = Buffer.allocUnsafeSlow(STAGE_BYTES);
    this.staged = 0;
  }
}

let shared: HashWorker | null = null;

/** A hash computed off the calling thread: "blake2b512" (what `b2sum` prints) or "sha256". */
export function offThreadHash(algorithm: HashAlgorithm): OffThreadHash {
  shared ??= new HashWorker();
  return shared.open(algorithm);
}
