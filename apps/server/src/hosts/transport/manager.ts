// The remote layer's front door: one HostConnection per registered host, addressed by the caller's host id.
import { blockdevSizeCommand, parseSizeOutput, validateRemotePath } from "@blockferry/lvm";
import { DomainError } from "../../errors.ts";
import { type Inventory, readInventory } from "../inventory/inventory.ts";
import { type ConnectionOptions, type ConnectionStats, HostConnection, type RemoteLogger } from "./connection.ts";
import type { HostEndpoint } from "./endpoint.ts";
import { sshCryptoBindingAvailable } from "./endpoint.ts";
import { RemoteCancelledError } from "./errors.ts";
import { type ExecOptions, type ExecResult, execOn, execStreamOn, type RemoteStream } from "./exec.ts";
import { type ByteSource, byteSourceOf, openRemoteFile, type RemoteFile } from "./sftp.ts";

export type HostId = string | number;

/** Inventory output past this is refused: 500 LVs answer in about 270 KiB (lvs JSON). */
export const INVENTORY_MAX_OUTPUT_BYTES = 4 << 20;

export type HostHealth = { reachable: boolean; latencyMs: number | null; error: string | null };

export class UnknownHostError extends DomainError {
  constructor(id: HostId) {
    super("HOST_NOT_REGISTERED", `host ${id} is not registered with the connection manager`);
  }
}

export class RemoteHosts {
  private readonly conns = new Map<string, HostConnection>();
  /** ssh2's native crypto binding (faster AES-GCM); reported once at startup. */
  readonly cryptoBindingAvailable: boolean;

  constructor(private readonly defaults: ConnectionOptions & { logger?: RemoteLogger } = {}) {
    this.cryptoBindingAvailable = sshCryptoBindingAvailable();
    defaults.logger?.info(
      { cryptoBindingAvailable: this.cryptoBindingAvailable },
      this.cryptoBindingAvailable
        ? "ssh2 native crypto binding loaded"
        : "ssh2 native crypto binding NOT available: slower ciphers",
    );
  }

  /**
   * Add or update a host. A changed endpoint (key, address, pinned fingerprint) drops the old connection; the
   * same endpoint again only clears a refused state so the next call retries. `options` apply on first
   * registration only (unregister to change them).
   */
  register(id: HostId, endpoint: HostEndpoint, options: ConnectionOptions = {}): void {
    const existing = this.conns.get(String(id));
    if (existing) existing.setEndpoint(endpoint);
    else this.conns.set(String(id), new HostConnection(endpoint, { ...this.defaults, ...options }));
  }

  async unregister(id: HostId): Promise<void> {
    const c = this.conns.get(String(id));
    this.conns.delete(String(id));
    await c?.close();
  }

  has(id: HostId): boolean {
    return this.conns.has(String(id));
  }

  connection(id: HostId): HostConnection {
    const c = this.conns.get(String(id));
    if (!c) throw new UnknownHostError(id);
    return c;
  }

  exec(id: HostId, command: string, opts?: ExecOptions): Promise<ExecResult> {
    return execOn(this.connection(id), command, opts);
  }

  execStream(id: HostId, command: string, opts?: { signal?: AbortSignal }): Promise<RemoteStream> {
    return execStreamOn(this.connection(id), command, opts);
  }

  openFile(id: HostId, path: string, mode: "r" | "r+" | "w" = "r"): Promise<RemoteFile> {
    return openRemoteFile(this.connection(id), path, mode);
  }

  /**
   * A ByteSource over a remote file or block device (its size from `blockdev --getsize64` when fstat says 0).
   * After `signal` aborts, reads reject with RemoteCancelledError and `close` no longer waits for the server.
   */
  async byteSource(
    id: HostId,
    path: string,
    opts: { signal?: AbortSignal } = {},
  ): Promise<ByteSource & { close(): Promise<void> }> {
    const safePath = validateRemotePath(path);
    const { signal } = opts;
    const conn = this.connection(id);
    if (signal?.aborted) throw new RemoteCancelledError(conn.name, `sftp open ${safePath}`);
    const cancelledOpen = () => new RemoteCancelledError(conn.name, `sftp open ${safePath}`);
    const file = await openUnlessAborted(this.openFile(id, safePath, "r"), signal, cancelledOpen);
    const src = byteSourceOf(
      file,
      async () =>
        parseSizeOutput((await this.exec(id, blockdevSizeCommand(safePath), { timeoutMs: 30_000, signal })).stdout),
      { signal, cancelled: () => new RemoteCancelledError(conn.name, `sftp read ${safePath}`) },
    );
    return {
      ...src,
      // sftp-server answers in order: behind a read stuck on a hung device, a close would wait as long.
      async close() {
        if (!signal?.aborted) return file.close();
        void file.close().catch(() => {});
      },
    };
  }

  inventory(id: HostId, opts: { timeoutMs?: number } = {}): Promise<Inventory> {
    return readInventory((command) =>
      this.exec(id, command, { timeoutMs: opts.timeoutMs ?? 30_000, maxOutputBytes: INVENTORY_MAX_OUTPUT_BYTES }),
    );
  }

  /** One round trip (`true`) on the pooled connection; connects first if needed. */
  async health(id: HostId, timeoutMs = 10_000): Promise<HostHealth> {
    const t0 = performance.now();
    try {
      await this.exec(id, "true", { timeoutMs });
      return { reachable: true, latencyMs: Math.round((performance.now() - t0) * 10) / 10, error: null };
    } catch (err) {
      return { reachable: false, latencyMs: null, error: (err as Error).message };
    }
  }

  /** Connections that are up now (for the metrics scrape). */
  openConnections(): number {
    let open = 0;
    for (const c of this.conns.values()) if (c.stats().state === "ready") open++;
    return open;
  }

  stats(id: HostId): ConnectionStats {
    return this.connection(id).stats();
  }

  async close(): Promise<void> {
    const all = [...this.conns.values()];
    this.conns.clear();
    await Promise.all(all.map((c) => c.close()));
  }
}

/**
 * The file once open, or a rejection as soon as `signal` aborts while the connection or SFTP session is still
 * opening (an abort would otherwise only be seen at the first read). A file that opens after that is closed.
 */
function openUnlessAborted(
  opening: Promise<RemoteFile>,
  signal: AbortSignal | undefined,
  cancelled: () => Error,
): Promise<RemoteFile> {
  if (!signal) return opening;
  return new Promise<RemoteFile>((resolve, reject) => {
    let settled = false;
    const onAbort = () => {
      if (settled) return;
      settled = true;
      reject(cancelled());
      opening
        .then(
          (f) => f.close(),
          () => {},
        )
        .catch(() => {});
    };
    opening.then(
      (file) => {
        signal.removeEventListener("abort", onAbort);
        if (settled) return;
        settled = true;
        resolve(file);
      },
      (err: unknown) => {
        signal.removeEventListener("abort", onAbort);
        if (settled) return;
        settled = true;
        reject(err);
      },
    );
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
}
