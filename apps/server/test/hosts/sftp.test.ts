// SFTP range reads and writes against a real sshd (internal-sftp); the loopback host's files are local files.
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LoopbackSshd, startLoopbackSshd } from "../../../../test-support/loopback-sshd.ts";
import {
  byteSourceOf,
  ConnectionLostError,
  RemoteCancelledError,
  type RemoteFile,
  RemoteHosts,
  SFTP_REQUEST_BYTES,
  SftpError,
} from "../../src/hosts/index.ts";
import { endpointOf } from "./sshd-fixture.ts";

let sshd: LoopbackSshd;
let hosts: RemoteHosts;
let path: string;
let data: Buffer;
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

beforeAll(async () => {
  sshd = await startLoopbackSshd();
  hosts = new RemoteHosts();
  hosts.register("h", endpointOf(sshd));
  path = join(sshd.dir, "disk.img");
  data = randomBytes(24 << 20);
  writeFileSync(path, data);
});
afterAll(async () => {
  await hosts?.close();
  await sshd?.stop();
});

describe("SFTP ranges", () => {
  it("reads ranges exactly, across many 261120-byte requests in flight", async () => {
    const f = await hosts.openFile("h", path);
    try {
      expect(await f.statSize()).toBe(data.length);
      for (const [off, len] of [
        [0, 1],
        [12345, SFTP_REQUEST_BYTES * 3 + 17],
        [data.length - 4096, 4096],
        [1 << 20, 20 << 20],
      ] as const) {
        const got = await f.read(off, len);
        expect(sha(got)).toBe(sha(data.subarray(off, off + len)));
      }
      const t0 = performance.now();
      const all = await f.read(0, data.length);
      const ms = performance.now() - t0;
      expect(sha(all)).toBe(sha(data));
      console.log(
        JSON.stringify({
          measure: "sftp read (loopback)",
          bytes: data.length,
          ms: Math.round(ms),
          MBps: Math.round(data.length / 1e6 / (ms / 1000)),
        }),
      );
      // Past the end: short, never padded.
      expect((await f.read(data.length - 10, 100)).length).toBe(10);
    } finally {
      await f.close();
    }
  });

  it("writes ranges that read back identically", async () => {
    const f = await hosts.openFile("h", path, "r+");
    const patch = randomBytes(3 * SFTP_REQUEST_BYTES + 999);
    const off = 5_000_001;
    try {
      await f.write(off, patch);
    } finally {
      await f.close();
    }
    patch.copy(data, off);
    expect(sha(readFileSync(path))).toBe(sha(data));
    const back = await hosts.openFile("h", path, "r");
    try {
      expect(sha(await back.read(off, patch.length))).toBe(sha(patch));
    } finally {
      await back.close();
    }
  });

  it("gives a ByteSource for the change-tracking reader", async () => {
    const src = await hosts.byteSource("h", path);
    try {
      expect(await src.size()).toBe(data.length);
      const got = await src.read(4096, 16);
      expect(Buffer.from(got).equals(data.subarray(4096, 4112))).toBe(true);
    } finally {
      await src.close();
    }
  });

  it("a read stuck on the host rejects as soon as the caller aborts", async () => {
    // SFTP cannot withdraw a request: a read on a hung device would hold its caller until the device answers.
    const stuck: RemoteFile = {
      path: "/dev/mapper/vg0-snap-cow",
      statSize: async () => 4096,
      read: () => new Promise<Buffer>(() => {}),
      write: async () => {},
      fsync: async () => true,
      close: async () => {},
    };
    const ac = new AbortController();
    const src = byteSourceOf(stuck, undefined, { signal: ac.signal, cancelled: () => new Error("cancelled") });
    const read = src.read(0, 16);
    setTimeout(() => ac.abort(), 50);
    await expect(read).rejects.toThrow("cancelled");
    await expect(src.read(0, 16)).rejects.toThrow("cancelled");
    // Without a signal nothing changes.
    expect(await byteSourceOf({ ...stuck, read: async () => Buffer.alloc(16, 1) }).read(0, 16)).toHaveLength(16);
  });

  it("a ByteSource aborted while its connection and SFTP session still open rejects at once", async () => {
    const cold = new RemoteHosts();
    cold.register("c", endpointOf(sshd));
    try {
      const ac = new AbortController();
      const t0 = performance.now();
      const opening = cold.byteSource("c", path, { signal: ac.signal });
      ac.abort();
      await expect(opening).rejects.toBeInstanceOf(RemoteCancelledError);
      expect(performance.now() - t0).toBeLessThan(1000);
    } finally {
      await cold.close();
    }
  });

  it("a missing file is a typed SftpError, and r+ never creates one", async () => {
    await expect(hosts.openFile("h", join(sshd.dir, "nope"))).rejects.toBeInstanceOf(SftpError);
    await expect(hosts.openFile("h", join(sshd.dir, "nope"), "r+")).rejects.toBeInstanceOf(SftpError);
    expect(existsSync(join(sshd.dir, "nope"))).toBe(false);
  });

  it("fsyncs through fsync@openssh.com", async () => {
    const f = await hosts.openFile("h", path, "r+");
    try {
      await f.write(0, data.subarray(0, 4096));
      expect(await f.fsync()).toBe(true);
    } finally {
      await f.close();
    }
  });

  // Last: it restarts the sshd.
  it("a lost session fails requests in flight and later ones at once (ConnectionLostError), never hangs", async () => {
    const f = await hosts.openFile("h", path);
    const big = f.read(0, data.length, { inFlight: 1, requestBytes: 4096 }).catch((e: unknown) => e);
    await sshd.restart();
    expect(await big).toBeInstanceOf(ConnectionLostError);
    // ssh2 would leave a request on the ended session unanswered forever: ours fail at once.
    const t0 = performance.now();
    await expect(f.read(0, 16)).rejects.toBeInstanceOf(ConnectionLostError);
    await expect(f.fsync()).rejects.toBeInstanceOf(ConnectionLostError);
    await f.close();
    expect(performance.now() - t0).toBeLessThan(1000);
    // A new open gets a new session on a new connection.
    const g = await hosts.openFile("h", path);
    try {
      expect((await g.read(4096, 16)).equals(data.subarray(4096, 4112))).toBe(true);
    } finally {
      await g.close();
    }
  });
});
