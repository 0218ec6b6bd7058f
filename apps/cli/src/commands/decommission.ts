import { decommissionConfirmText, type Migration } from "@blockferry/contracts";
import { api, CliApiError, connection, parseArgs } from "../lib/api-client.ts";
import { type Io, processIo } from "../lib/io.ts";

const USAGE = `usage: blockferry decommission ID --confirm VG/LV[,VG/LV...]
Removes the source LVs that succeeded migration ID kept on its source host (lvremove), one per disk of the VM, once
you confirm their names: every disk's VG/LV, disk 0 first, joined by commas. Run without --confirm to be told them.
After a failure part-way, the same command again removes the rest.
options: --server URL, --token TOKEN (as for blockferry migrate)`;

const sourcesOf = (job: Migration) =>
  job.disks.length ? job.disks.map((d) => d.source) : [{ vg: job.source.vg, lv: job.source.lv }];

/** `blockferry decommission ID --confirm VG/LV[,...]`: the dashboard's "Remove source LV", for scripts and shells. */
export async function run(argv: string[], io: Io = processIo()): Promise<number> {
  const { flags, positional } = parseArgs(argv);
  const id = Number(positional[0]);
  if (positional.length !== 1 || !Number.isInteger(id) || id < 1) {
    io.stderr.write(`${USAGE}\n`);
    return 2;
  }
  try {
    const conn = connection(flags, io.env);
    const confirm = flags.get("confirm");
    if (confirm === undefined) {
      const job = await api<Migration>(conn, "GET", `/api/migrations/${id}`);
      throw new CliApiError(
        `confirm what is removed: blockferry decommission ${id} --confirm ${decommissionConfirmText(sourcesOf(job))}`,
      );
    }
    const job = await api<Migration>(conn, "POST", `/api/migrations/${id}/decommission`, { confirm });
    const sources = sourcesOf(job);
    io.stdout.write(
      `migration ${id}: source ${sources.length === 1 ? "LV" : "LVs"} ${sources.map((s) => `${s.vg}/${s.lv}`).join(", ")} removed` +
        ` (by ${job.sourceDecommissionedBy}, ${job.sourceDecommissionedAt})\n`,
    );
    return 0;
  } catch (err) {
    if (err instanceof CliApiError) {
      io.stderr.write(`blockferry decommission: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}
