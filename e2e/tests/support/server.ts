import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Host } from "@blockferry/contracts";
import { loadConfig, type RunningServer, startServer } from "@blockferry/server";
import type { LabHost } from "../../lab/harness.ts";
import { apiClient } from "./api.ts";
import { adminTokenOffline } from "./auth.ts";

/**
 * A real Blockferry server in this process, on a fresh SQLite file, with quick polling for tests, and an admin API
 * token (`token`) that every request to it must carry.
 */
export async function startTestServer(
  opts: { changeReadMs?: number } = {},
): Promise<RunningServer & { dataDir: string; token: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), "bf-e2e-"));
  // Before the start: with an account in place the server prints no first-run setup link.
  const token = await adminTokenOffline(dataDir);
  const config = loadConfig(["--port", "0", "--data-dir", dataDir], { BLOCKFERRY_LOG_LEVEL: "warn" });
  const server = await startServer(config, {
    runner: { pollMs: 200, leaseMs: 5000 },
    snapshotWatchMs: 1000,
    ...opts,
  });
  return {
    ...server,
    dataDir,
    token,
    async close() {
      await server.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A test server with both lab hosts added and their host keys trusted: where every lab migration test starts. */
export async function startServerWithLabHosts(
  source: LabHost,
  target: LabHost,
  opts: { changeReadMs?: number } = {},
): Promise<{
  server: Awaited<ReturnType<typeof startTestServer>>;
  api: ReturnType<typeof apiClient>;
  src: Host;
  dst: Host;
}> {
  const server = await startTestServer(opts);
  const api = apiClient(server.url, server.token);
  return { server, api, src: await api.addTrustedHost(source), dst: await api.addTrustedHost(target) };
}
