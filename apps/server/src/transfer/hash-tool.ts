import { HASH_TOOL_PROBE_COMMAND, type HashTool } from "@blockferry/lvm";
import { RemoteOutputError } from "./errors.ts";
import type { TransferHost } from "./host.ts";
import { readAllText } from "./relay.ts";

/** Which hash tool a host proves its bytes with (see HASH_TOOLS); prechecks run the same probe. */
export async function probeHashTool(host: TransferHost, signal?: AbortSignal): Promise<HashTool> {
  const p = await host.execStream(HASH_TOOL_PROBE_COMMAND, { signal });
  p.stdin.end();
  const [out] = await Promise.all([readAllText(p.stdout), p.done]);
  const tool = out.trim();
  if (tool === "openssl-sha256" || tool === "b2sum") return tool;
  throw new RemoteOutputError(`${host.name} has neither openssl nor b2sum (coreutils) to prove what it holds`);
}
