import {
  type CreateHost,
  type Host,
  type HostHealth,
  migrationAddressProblem,
  type UpdateHost,
} from "@blockferry/contracts";
import { ACTIVE_JOB_STATES } from "@blockferry/contracts/vocabulary";
import ssh2 from "ssh2";
import { type Actor, type AuditRepo, SYSTEM } from "../../db/repositories/audit.ts";
import type { HostRow, HostsRepo } from "../../db/repositories/hosts.ts";
import { toHost } from "../../db/repositories/hosts.ts";
import {
  ConflictError,
  InvalidInputError,
  messageOf,
  NotFoundError,
  PreconditionError,
  UpstreamError,
  upstreamSummary,
} from "../../errors.ts";
import type { EventHub } from "../../events/hub.ts";
import { isSealed } from "../../secrets/envelope.ts";
import type { Keyring } from "../../secrets/keyring.ts";
import type { Inventory } from "../inventory/inventory.ts";
import { HostKeyMismatchError, HostUnreachableError, OutputLimitError } from "../transport/errors.ts";
import { probeHostKey } from "../transport/host-key.ts";
import type { RemoteHosts } from "../transport/manager.ts";
import { readKeyFile } from "./key-file.ts";

export interface HostRegistryDeps {
  hosts: HostsRepo;
  audit: Pick<AuditRepo, "record">;
  hub: Pick<EventHub, "append">;
  remote: RemoteHosts;
  /** Seals pasted keys before they are stored; opens them only to hand them to a connection. */
  keyring: Keyring;
  /** `privateKeyPath` must name a regular file under this folder. */
  keyDir: string;
  probeTimeoutMs?: number;
  /** The server log, for the full error of a failed health check. */
  logger?: { warn(obj: object, msg: string): void };
}

/** "3, 2, 1" or "9, 8, 7, 6, 5 and 4 more": a message stays readable however long the history. */
function idList(jobs: Array<{ id: number }>): string {
  const shown = jobs
    .slice(0, 5)
    .map((j) => j.id)
    .join(", ");
  return jobs.length > 5 ? `${shown} and ${jobs.length - 5} more` : shown;
}

/** Checks that `text` is an unencrypted private key ssh2 can use: a clear 400 at add time, not a failed job later. */
function checkKey(text: string): string {
  const parsed = ssh2.utils.parseKey(text);
  if (parsed instanceof Error || (Array.isArray(parsed) && parsed.length === 0))
    throw new InvalidInputError("the private key is not a usable OpenSSH/PEM private key (or it is encrypted)");
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key?.isPrivateKey()) throw new InvalidInputError("that is a public key; paste the private key");
  return text;
}

/** A migration address as stored (null: none), or a 400 that says what is wrong with it. */
function checkMigrationAddress(text: string | null): string | null {
  if (text === null || text.trim() === "") return null;
  const problem = migrationAddressProblem(text.trim());
  if (problem) throw new InvalidInputError(problem);
  return text.trim();
}

/**
 * The host inventory and its trust rules: a host is used only after the operator confirmed the fingerprint it
 * presented; a host that later presents another key is blocked until trusted again.
 */
export function createHostRegistry(d: HostRegistryDeps) {
  const load = (id: number) => {
    const row = d.hosts.get(id);
    if (!row) throw new NotFoundError("host", id);
    return row;
  };
  const probe = async (row: HostRow) => {
    try {
      const p = await probeHostKey({ host: row.address, port: row.port, timeoutMs: d.probeTimeoutMs ?? 8000 });
      return { fingerprint: p.fingerprint, error: null, failure: null };
    } catch (err) {
      return { fingerprint: null, error: (err as Error).message, failure: err };
    }
  };
  /** A probe that reached nothing is the host's failure (502), named by the host's registered name. */
  const unreachable = (row: HostRow, failure: unknown): UpstreamError => {
    const err =
      failure instanceof UpstreamError
        ? failure
        : new HostUnreachableError(`${row.address}:${row.port}`, messageOf(failure));
    err.hostName ??= row.name;
    return err;
  };
  /** The key in the clear, from the sealed column or the key file; only a connection ever gets it. */
  const loadKey = async (row: Pick<HostRow, "privateKey" | "privateKeyPath">): Promise<string> => {
    if (row.privateKey) return checkKey(isSealed(row.privateKey) ? d.keyring.open(row.privateKey) : row.privateKey);
    if (row.privateKeyPath) return checkKey(await readKeyFile(row.privateKeyPath, d.keyDir));
    throw new InvalidInputError("give either privateKey or privateKeyPath");
  };
  /** Why a trusted host has no connection (its key could not be loaded), for requireTrusted to say. */
  const keyErrors = new Map<number, string>();
  const register = (row: HostRow, privateKey: string) => {
    if (!row.pinnedFingerprint) return;
    keyErrors.delete(row.id);
    d.remote.register(row.id, {
      host: row.address,
      port: row.port,
      username: row.username,
      privateKey,
      hostKeyFingerprint: row.pinnedFingerprint,
    });
  };

  const registry = {
    list: (): Host[] => d.hosts.list().map(toHost),
    get: (id: number): Host => toHost(load(id)),
    row: load,

    /**
     * Registers every trusted host with the connection manager (at startup). A host whose key cannot be loaded
     * is left out and reported (here and by requireTrusted); the others still connect.
     */
    async connectTrusted(): Promise<Array<{ hostId: number; error: string }>> {
      const failed: Array<{ hostId: number; error: string }> = [];
      const trusted = d.hosts.list().filter((row) => row.status === "trusted");
      await Promise.all(
        trusted.map(async (row) => {
          try {
            register(row, await loadKey(row));
          } catch (err) {
            const error = `cannot load the key of ${row.name}: ${(err as Error).message}`;
            keyErrors.set(row.id, error);
            failed.push({ hostId: row.id, error });
          }
        }),
      );
      return failed;
    },

    async add(
      input: CreateHost,
      actor: Actor = SYSTEM,
    ): Promise<{ host: Host; fingerprint: string | null; probeError: string | null }> {
      if (Boolean(input.privateKey) === Boolean(input.privateKeyPath))
        throw new InvalidInputError("give exactly one of privateKey (pasted) or privateKeyPath (a file on the server)");
      // What was pasted is taken as a key, whatever it looks like (even "bfenc:..."): never opened here.
      if (input.privateKey) checkKey(input.privateKey);
      else await loadKey({ privateKey: null, privateKeyPath: input.privateKeyPath ?? null });
      checkMigrationAddress(input.migrationAddress ?? null);
      if (d.hosts.getByName(input.name)) throw new ConflictError(`a host named ${input.name} exists already`);
      let row = d.hosts.insert({
        name: input.name,
        address: input.address,
        port: input.port ?? 22,
        username: input.username ?? "root",
        privateKey: input.privateKey ? d.keyring.seal(input.privateKey) : null,
        privateKeyPath: input.privateKeyPath ?? null,
        maxConcurrency: input.maxConcurrency ?? 8,
        migrationAddress: input.migrationAddress ?? null,
      });
      const probed = await probe(row);
      if (probed.fingerprint) row = d.hosts.update(row.id, { seenFingerprint: probed.fingerprint }) ?? row;
      d.audit.record(actor, "host.add", `host:${row.id}`, { name: row.name, address: row.address, port: row.port });
      d.hub.append(null, "host.added", { hostId: row.id, name: row.name, fingerprint: probed.fingerprint });
      return { host: toHost(row), fingerprint: probed.fingerprint, probeError: probed.error };
    },

    /** Changes what an admin may change (the migration address); audited with the old and the new value. */
    update(id: number, input: UpdateHost, actor: Actor = SYSTEM): Host {
      const row = load(id);
      const migrationAddress = checkMigrationAddress(input.migrationAddress);
      const updated = d.hosts.update(id, { migrationAddress });
      if (!updated) throw new NotFoundError("host", id);
      d.audit.record(actor, "host.update", `host:${id}`, {
        name: row.name,
        migrationAddress: { from: row.migrationAddress, to: migrationAddress },
      });
      return toHost(updated);
    },

    async probe(id: number): Promise<{ fingerprint: string }> {
      const row = load(id);
      const probed = await probe(row);
      if (!probed.fingerprint) throw unreachable(row, probed.failure);
      d.hosts.update(id, { seenFingerprint: probed.fingerprint });
      return { fingerprint: probed.fingerprint };
    },

    /** Pins the fingerprint the operator confirmed; it must be the one the host presents right now. */
    async trust(id: number, fingerprint: string, actor: Actor = SYSTEM): Promise<Host> {
      const row = load(id);
      const probed = await probe(row);
      if (!probed.fingerprint) throw unreachable(row, probed.failure);
      if (probed.fingerprint !== fingerprint)
        throw new ConflictError(`${row.name} presents ${probed.fingerprint}, not the confirmed ${fingerprint}`, {
          presented: probed.fingerprint,
        });
      // Load the key first: a host is not marked trusted if no connection can be made with what we hold.
      const privateKey = await loadKey(row);
      const updated = d.hosts.update(id, {
        pinnedFingerprint: fingerprint,
        seenFingerprint: fingerprint,
        status: "trusted",
      });
      if (!updated) throw new NotFoundError("host", id);
      register(updated, privateKey);
      d.audit.record(actor, "host.trust", `host:${id}`, { fingerprint, previous: row.pinnedFingerprint });
      d.hub.append(null, "host.trusted", { hostId: id, name: row.name, fingerprint });
      return toHost(updated);
    },

    /** Called when a connection saw another key than the pinned one: block the host, tell everyone. */
    async keyChanged(id: number, presented: string): Promise<void> {
      const row = d.hosts.get(id);
      if (!row || row.status === "key_changed") return;
      d.hosts.update(id, { status: "key_changed", seenFingerprint: presented });
      await d.remote.unregister(id);
      d.audit.record(SYSTEM, "host.key_changed", `host:${id}`, { pinned: row.pinnedFingerprint, presented });
      d.hub.append(null, "host.key_changed", {
        hostId: id,
        name: row.name,
        expected: row.pinnedFingerprint,
        presented,
      });
    },

    /**
     * Refused (409) while any migration names the host: an unfinished one still needs it, and a finished one's
     * history would lose its host. The connection is dropped only once the row is gone: never half-removed.
     */
    async remove(id: number, actor: Actor = SYSTEM): Promise<void> {
      const row = load(id);
      d.hosts.removeUnlessUsed(id, (using) => {
        const unfinished = using.filter((j) => (ACTIVE_JOB_STATES as readonly string[]).includes(j.state));
        if (unfinished.length > 0)
          throw new ConflictError(
            `${row.name} is used by unfinished migration ${idList(unfinished)}: ` +
              "let it finish or cancel it before removing the host",
            { reason: "host_in_use", migrationIds: unfinished.map((j) => j.id) },
          );
        if (using.length > 0)
          throw new ConflictError(
            `${row.name} has the history of migration ${idList(using)}, which names it; ` +
              "the host is kept so that history stays whole",
            { reason: "host_has_history", migrationIds: using.map((j) => j.id) },
          );
      });
      d.audit.record(actor, "host.remove", `host:${id}`, { name: row.name });
      keyErrors.delete(id);
      await d.remote.unregister(id);
    },

    /** The connection manager for a trusted host, or a clear refusal. */
    requireTrusted(id: number): HostRow {
      const row = load(id);
      const keyError = keyErrors.get(id);
      if (row.status === "trusted" && keyError) throw new PreconditionError(keyError);
      if (row.status !== "trusted" || !d.remote.has(id))
        throw new PreconditionError(
          row.status === "key_changed"
            ? `${row.name} presented a different host key: verify it and trust it again before using it`
            : `${row.name} is not trusted yet: confirm its key fingerprint first`,
        );
      return row;
    },

    /** Runs `fn` against a trusted host; a host key mismatch seen on the way blocks the host. */
    async withHost<T>(id: number, fn: () => Promise<T>): Promise<T> {
      const row = registry.requireTrusted(id);
      try {
        return await fn();
      } catch (err) {
        // The remote layer knows the host as user@address:port; an answer to a client names it as registered.
        if (err instanceof UpstreamError || err instanceof HostKeyMismatchError) err.hostName ??= row.name;
        if (err instanceof HostKeyMismatchError) await registry.keyChanged(id, err.presentedFingerprint);
        throw err;
      }
    },

    /**
     * One round trip (`true`). The error says what kind of failure, by the host's name (the dashboard and the
     * prechecks show it): the address and the SSH layer's words go to the server log only. A changed host key
     * blocks the host (withHost).
     */
    async health(id: number): Promise<HostHealth> {
      const t0 = performance.now();
      try {
        await registry.withHost(id, () => d.remote.exec(id, "true", { timeoutMs: 10_000 }));
        return { reachable: true, latencyMs: Math.round((performance.now() - t0) * 10) / 10, error: null };
      } catch (err) {
        if (err instanceof UpstreamError) {
          d.logger?.warn({ err, hostId: id }, "host health check failed");
          return { reachable: false, latencyMs: null, error: upstreamSummary(err) };
        }
        if (err instanceof HostKeyMismatchError)
          return {
            reachable: false,
            latencyMs: null,
            error: `${err.hostName ?? "the host"} presented host key ${err.presentedFingerprint}, not the pinned one`,
          };
        throw err;
      }
    },

    inventory(id: number): Promise<Inventory> {
      return registry
        .withHost(id, () => d.remote.inventory(id))
        .catch((err: unknown) => {
          // The host answered with more than any hypervisor has: its state, not our fault (and not a 500).
          if (!(err instanceof OutputLimitError)) throw err;
          throw new PreconditionError(
            `${load(id).name} answered the inventory with more than ${err.maxOutputBytes} bytes; refused. ` +
              "Check its lvs/vgs/dmsetup/virsh output for garbage",
            { code: err.code, maxOutputBytes: err.maxOutputBytes },
          );
        });
    },
  };
  return registry;
}
export type HostRegistry = ReturnType<typeof createHostRegistry>;
