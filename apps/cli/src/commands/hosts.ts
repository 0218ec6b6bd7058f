import type { Host, HostList, Inventory } from "@blockferry/contracts";
import { api, CliApiError, connection, parseArgs } from "../lib/api-client.ts";
import { type Io, processIo } from "../lib/io.ts";

const USAGE = `usage:
  blockferry hosts list
  blockferry hosts add NAME ADDRESS [--port 22] [--user root] (--key-file PATH | --key-stdin)
                       [--migration-address HOST[:PORT]]
  blockferry hosts migration-address ID (HOST[:PORT] | [V6]:PORT | --clear)
  blockferry hosts trust ID FINGERPRINT
  blockferry hosts inventory ID [--json]
  blockferry hosts remove ID
options: --server URL (default $BLOCKFERRY_URL or http://127.0.0.1:7878)
--key-file names a file on the server, under its --key-dir (relative paths are taken from there);
--key-stdin sends the key, which the server stores encrypted;
the migration address is where other hypervisors reach the host (direct data path); default: ADDRESS:PORT;
--token TOKEN (default $BLOCKFERRY_TOKEN, else the token file blockferry login wrote)`;

/** Where other hypervisors reach the host: its migration address, else the address the server uses. */
const migrationAt = (h: Host) => h.migrationAddress ?? `${h.address}:${h.port} (its address)`;

async function readStdin(stdin: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stdin) chunks.push(typeof c === "string" ? Buffer.from(c) : c);
  return Buffer.concat(chunks).toString("utf8");
}

export async function run(argv: string[], io: Io = processIo()): Promise<number> {
  const { flags, positional } = parseArgs(argv, ["json", "key-stdin", "clear"]);
  const [sub, ...args] = positional;
  try {
    const conn = connection(flags, io.env);
    switch (sub) {
      case "list": {
        const { hosts } = await api<HostList>(conn, "GET", "/api/hosts");
        if (!hosts.length) io.stdout.write("no hosts yet: blockferry hosts add NAME ADDRESS --key-file PATH\n");
        for (const h of hosts)
          io.stdout.write(
            `${h.id}\t${h.name}\t${h.username}@${h.address}:${h.port}\t${h.status}\t${h.pinnedFingerprint ?? h.seenFingerprint ?? "-"}\tmigration ${migrationAt(h)}\n`,
          );
        return 0;
      }
      case "add": {
        const [name, address] = args;
        if (!name || !address) break;
        const body = {
          name,
          address,
          port: flags.has("port") ? Number(flags.get("port")) : undefined,
          username: flags.get("user"),
          privateKeyPath: flags.get("key-file"),
          privateKey: flags.has("key-stdin") ? await readStdin(io.stdin) : undefined,
          migrationAddress: flags.get("migration-address"),
        };
        const r = await api<{ host: Host; fingerprint: string | null; probeError: string | null }>(
          conn,
          "POST",
          "/api/hosts",
          body,
        );
        io.stdout.write(`added host ${r.host.id} (${r.host.name})\n`);
        if (r.fingerprint)
          io.stdout.write(
            `it presents host key ${r.fingerprint}\ncheck it on the host (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub), then:\n  blockferry hosts trust ${r.host.id} ${r.fingerprint}\n`,
          );
        else io.stdout.write(`could not read its host key: ${r.probeError}\n`);
        return 0;
      }
      case "trust": {
        const [id, fingerprint] = args;
        if (!id || !fingerprint) break;
        const h = await api<Host>(conn, "POST", `/api/hosts/${encodeURIComponent(id)}/trust`, { fingerprint });
        io.stdout.write(`${h.name} trusted with ${h.pinnedFingerprint}\n`);
        return 0;
      }
      case "inventory": {
        const [id] = args;
        if (!id) break;
        const inv = await api<Inventory>(conn, "GET", `/api/hosts/${encodeURIComponent(id)}/inventory`);
        if (flags.has("json")) io.stdout.write(`${JSON.stringify(inv, null, 2)}\n`);
        else {
          for (const vg of inv.vgs) io.stdout.write(`VG ${vg.name}\tsize ${vg.sizeBytes}\tfree ${vg.freeBytes}\n`);
          for (const lv of inv.lvs)
            io.stdout.write(`LV ${lv.vg}/${lv.name}\t${lv.kind}\t${lv.sizeBytes}${lv.open ? "\topen" : ""}\n`);
        }
        return 0;
      }
      case "migration-address": {
        const [id, address] = args;
        if (!id || (address === undefined) === !flags.has("clear")) break;
        const h = await api<Host>(conn, "PATCH", `/api/hosts/${encodeURIComponent(id)}`, {
          migrationAddress: address ?? null,
        });
        io.stdout.write(`${h.name}: other hosts reach it at ${migrationAt(h)}\n`);
        return 0;
      }
      case "remove": {
        const [id] = args;
        if (!id) break;
        await api(conn, "DELETE", `/api/hosts/${encodeURIComponent(id)}`);
        io.stdout.write(`host ${id} removed\n`);
        return 0;
      }
    }
  } catch (err) {
    if (err instanceof CliApiError) {
      io.stderr.write(`blockferry hosts: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  io.stderr.write(`${USAGE}\n`);
  return 2;
}
