// One long-lived SSH connection to one host: pinned host key, keepalive, reconnect with backoff, and a cap
// on concurrent channels (OpenSSH's MaxSessions defaults to 10 per connection).
import { type Socket, connect as tcpConnect } from "node:net";
import { Client, type ClientChannel, type SFTPWrapper } from "ssh2";
import { describeEndpoint, type HostEndpoint, SSH_ALGORITHMS } from "./endpoint.ts";
import { AuthenticationError, ConnectionClosedError, HostKeyMismatchError, HostUnreachableError } from "./errors.ts";
import { fingerprintOf } from "./host-key.ts";
import { Semaphore } from "./semaphore.ts";

export type RemoteLogger = {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
};
const silent: RemoteLogger = { info() {}, warn() {} };

export type ConnectionOptions = {
  /** Concurrent exec channels (SFTP and kill channels are extra). Keep below sshd MaxSessions - 2. */
  maxChannels?: number;
  keepaliveIntervalMs?: number;
  keepaliveCountMax?: number;
  /** TCP connect plus SSH handshake and authentication. */
  readyTimeoutMs?: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  logger?: RemoteLogger;
};

export type ConnectionState = "idle" | "connecting" | "ready" | "backoff" | "failed" | "closed";

export type ConnectionStats = {
  state: ConnectionState;
  activeChannels: number;
  peakChannels: number;
  queuedChannels: number;
  connects: number;
  lastError: string | null;
};

export class HostConnection {
  readonly name: string;
  private endpoint: HostEndpoint;
  private readonly opts: Required<Omit<ConnectionOptions, "logger">>;
  private readonly log: RemoteLogger;
  private readonly slots: Semaphore;
  private state: ConnectionState = "idle";
  private client: Client | null = null;
  private connecting: Promise<Client> | null = null;
  private sftpSession: Promise<SFTPWrapper> | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private failures = 0;
  private connects = 0;
  private lastError: Error | null = null;
  /** Permanent failures (changed host key, refused key) stop automatic retries until the endpoint changes. */
  private permanentError: Error | null = null;
  private readonly dropListeners = new Set<(client: Client) => void>();

  constructor(endpoint: HostEndpoint, options: ConnectionOptions = {}) {
    this.endpoint = endpoint;
    this.name = describeEndpoint(endpoint);
    this.log = options.logger ?? silent;
    this.opts = {
      maxChannels: options.maxChannels ?? 8,
      keepaliveIntervalMs: options.keepaliveIntervalMs ?? 10_000,
      keepaliveCountMax: options.keepaliveCountMax ?? 3,
      readyTimeoutMs: options.readyTimeoutMs ?? 15_000,
      backoffInitialMs: options.backoffInitialMs ?? 250,
      backoffMaxMs: options.backoffMaxMs ?? 30_000,
    };
    this.slots = new Semaphore(this.opts.maxChannels);
  }

  stats(): ConnectionStats {
    return {
      state: this.state,
      activeChannels: this.slots.inUse,
      peakChannels: this.slots.peak,
      queuedChannels: this.slots.queued,
      connects: this.connects,
      lastError: this.lastError?.message ?? null,
    };
  }

  /** New key, address or pinned fingerprint: drop the old connection, forget permanent failures. */
  setEndpoint(endpoint: HostEndpoint): void {
    this.permanentError = null;
    this.failures = 0;
    // Same endpoint again (e.g. the operator fixed authorized_keys): allow a retry, keep a working connection.
    if (sameEndpoint(this.endpoint, endpoint)) {
      if (this.state === "failed") this.state = "idle";
      return;
    }
    this.endpoint = endpoint;
    this.dropClient();
    if (this.state !== "closed") this.state = "idle";
  }

  /** Called with the dead client whenever an established connection drops (running commands fail typed). */
  onDrop(listener: (client: Client) => void): () => void {
    this.dropListeners.add(listener);
    return () => this.dropListeners.delete(listener);
  }

  /** The ready client, connecting now if needed. Rejects with the typed reason if that attempt fails. */
  ready(): Promise<Client> {
    if (this.state === "closed") return Promise.reject(new ConnectionClosedError(this.name));
    if (this.permanentError) return Promise.reject(this.permanentError);
    if (this.client && this.state === "ready") return Promise.resolve(this.client);
    if (this.retryTimer) {
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
    }
    this.connecting ??= this.connectOnce().finally(() => {
      this.connecting = null;
    });
    return this.connecting;
  }

  /** Run `fn` holding one of the host's channel slots (unless `unlimited`, used for kill commands). */
  async withSlot<T>(
    fn: (client: Client) => Promise<T>,
    opts: { signal?: AbortSignal; unlimited?: boolean } = {},
  ): Promise<T> {
    const release = opts.unlimited ? () => {} : await this.slots.acquire(opts.signal);
    try {
      const client = await this.ready();
      return await fn(client);
    } finally {
      release();
    }
  }

  /** Acquire a slot and keep it until the caller releases it (streams hold theirs for their lifetime). */
  async acquireSlot(signal?: AbortSignal): Promise<() => void> {
    return this.slots.acquire(signal);
  }

  /** The connection's SFTP session, opened once per connection. */
  sftp(): Promise<SFTPWrapper> {
    this.sftpSession ??= this.ready()
      .then(
        (client) =>
          new Promise<SFTPWrapper>((resolve, reject) => {
            client.sftp((err, sftp) => {
              if (err) return reject(new HostUnreachableError(this.name, `sftp subsystem: ${err.message}`));
              sftp.on("close", () => {
                this.sftpSession = null;
              });
              resolve(sftp);
            });
          }),
      )
      .catch((err) => {
        this.sftpSession = null;
        throw err;
      });
    return this.sftpSession;
  }

  async close(): Promise<void> {
    this.state = "closed";
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const client = this.client;
    this.dropClient();
    if (client) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 2000);
        client.once("close", () => {
          clearTimeout(t);
          resolve();
        });
        client.end();
      });
    }
  }

  private dropClient(): void {
    const client = this.client;
    this.client = null;
    this.sftpSession = null;
    if (client) {
      client.removeAllListeners("close");
      client.on("error", () => {});
      client.end();
    }
  }

  private connectOnce(): Promise<Client> {
    this.state = "connecting";
    const endpoint = this.endpoint;
    return new Promise<Client>((resolve, reject) => {
      let presented: string | null = null;
      let settled = false;
      const client = new Client();
      const fail = (err: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        client.removeAllListeners();
        client.on("error", () => {});
        client.destroy();
        socket.destroy();
        this.lastError = err;
        if (err instanceof HostKeyMismatchError || err instanceof AuthenticationError) {
          this.permanentError = err;
          this.state = "failed";
          this.log.warn({ host: this.name, code: (err as { code?: string }).code }, err.message);
        } else {
          this.log.warn({ host: this.name }, `connect failed: ${err.message}`);
          this.scheduleRetry();
        }
        reject(err);
      };
      // One deadline for TCP connect + handshake + auth; ssh2's readyTimeout only starts after the TCP connect.
      const timer = setTimeout(
        () => fail(new HostUnreachableError(this.name, `not ready after ${this.opts.readyTimeoutMs} ms`)),
        this.opts.readyTimeoutMs,
      );
      const socket: Socket = tcpConnect({ host: endpoint.host, port: endpoint.port });
      socket.setNoDelay(true);
      socket.once("error", (err) => fail(new HostUnreachableError(this.name, err.message)));
      socket.once("connect", () => {
        client.on("error", (err: Error & { level?: string }) => {
          if (presented !== null && presented !== endpoint.hostKeyFingerprint)
            fail(new HostKeyMismatchError(this.name, endpoint.hostKeyFingerprint, presented));
          else if (err.level === "client-authentication") fail(new AuthenticationError(this.name));
          // ssh2's key parser errors quote no key bytes, but keep the message generic all the same.
          else if (/privateKey|parse/i.test(err.message)) fail(new AuthenticationError(this.name));
          else fail(new HostUnreachableError(this.name, err.message));
        });
        client.once("ready", () => {
          if (settled) return;
          if (this.endpoint !== endpoint)
            return fail(new HostUnreachableError(this.name, "endpoint changed while connecting"));
          settled = true;
          clearTimeout(timer);
          client.removeAllListeners("error");
          this.adopt(client);
          resolve(client);
        });
        try {
          client.connect({
            sock: socket,
            username: endpoint.username,
            privateKey: endpoint.privateKey,
            passphrase: endpoint.passphrase,
            readyTimeout: this.opts.readyTimeoutMs,
            keepaliveInterval: this.opts.keepaliveIntervalMs,
            keepaliveCountMax: this.opts.keepaliveCountMax,
            algorithms: { cipher: [...SSH_ALGORITHMS.cipher], serverHostKey: [...SSH_ALGORITHMS.serverHostKey] },
            hostVerifier: (key: Buffer) => {
              presented = fingerprintOf(key);
              return presented === endpoint.hostKeyFingerprint;
            },
          });
        } catch {
          // Thrown synchronously for an unparsable private key; the error text is not passed on.
          fail(new AuthenticationError(this.name));
        }
      });
    });
  }

  private adopt(client: Client): void {
    this.client = client;
    this.state = "ready";
    this.failures = 0;
    this.connects++;
    this.lastError = null;
    this.log.info({ host: this.name, connects: this.connects }, "ssh connection ready");
    client.on("error", (err) => {
      this.lastError = err;
      this.log.warn({ host: this.name }, `ssh connection error: ${err.message}`);
    });
    client.once("close", () => {
      if (this.client !== client) return;
      this.client = null;
      this.sftpSession = null;
      for (const l of this.dropListeners) l(client);
      if (this.state === "closed") return;
      this.log.warn({ host: this.name }, "ssh connection dropped; reconnecting");
      this.scheduleRetry();
    });
  }

  private scheduleRetry(): void {
    if (this.state === "closed" || this.permanentError) return;
    this.state = "backoff";
    const base = Math.min(this.opts.backoffMaxMs, this.opts.backoffInitialMs * 2 ** this.failures);
    this.failures++;
    const delay = base / 2 + Math.random() * (base / 2);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.state !== "backoff") return;
      this.ready().catch(() => {}); // failures are logged and rescheduled in connectOnce
    }, delay);
    this.retryTimer.unref();
  }
}

export type { ClientChannel };

function sameEndpoint(a: HostEndpoint, b: HostEndpoint): boolean {
  return (
    a.host === b.host &&
    a.port === b.port &&
    a.username === b.username &&
    a.hostKeyFingerprint === b.hostKeyFingerprint &&
    a.passphrase === b.passphrase &&
    Buffer.from(a.privateKey).equals(Buffer.from(b.privateKey))
  );
}
