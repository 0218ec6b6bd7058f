import type { Inventory, InventoryLv, LvKind } from "@blockferry/contracts";
import { useState } from "react";
import { Bytes } from "../../components/Figures.tsx";
import { Empty } from "../../components/QueryState.tsx";
import { ProgressBar } from "../../components/StateBadge.tsx";
import { Table } from "../../components/Table.tsx";
import { formatTime } from "../../lib/format.ts";
import { Link } from "../../lib/router.tsx";

/** The tools by the names an operator installs and runs them under, not the API's keys (no "thinDelta"). */
const TOOL_NAMES: Record<keyof Inventory["tools"], string> = {
  lvm: "LVM",
  dmsetup: "dmsetup",
  thinDelta: "thin_delta (thin-provisioning-tools)",
  sha256sum: "sha256sum",
  b2sum: "b2sum",
  virsh: "virsh (libvirt)",
};
const KIND_NAMES: Record<LvKind, string> = {
  linear: "linear",
  thin: "thin",
  "thin-pool": "thin pool",
  snapshot: "snapshot",
  origin: "origin of a snapshot",
  other: "other",
};

const KINDS: LvKind[] = ["linear", "thin", "thin-pool", "snapshot", "origin", "other"];

function Pct({ value, label }: { value: number | null; label: string }) {
  if (value === null) return <span className="muted">–</span>;
  return (
    <span className="pct">
      <ProgressBar value={value} label={label} /> {value.toFixed(1)}%
    </span>
  );
}

/** A host's LVM and libvirt inventory as tables, with a filter over the (possibly hundreds of) LVs. */
export function InventoryView({ inventory }: { inventory: Inventory }) {
  const [kind, setKind] = useState<LvKind | "">("");
  const [q, setQ] = useState("");
  const lvs = inventory.lvs.filter(
    (lv: InventoryLv) => (!kind || lv.kind === kind) && (!q || `${lv.vg}/${lv.name}`.includes(q)),
  );
  return (
    <div className="inventory">
      <p className="muted small">Collected {formatTime(inventory.collectedAt)}</p>
      {inventory.warnings.length > 0 ? (
        <ul className="banner warning" aria-label="Inventory warnings">
          {inventory.warnings.map((w) => (
            <li key={w}>{w}</li>
          ))}
        </ul>
      ) : null}

      <h3>Volume groups</h3>
      {inventory.vgs.length === 0 ? (
        <Empty>No volume groups on this host.</Empty>
      ) : (
        <Table label="Volume groups" columns={["VG", "Size", "Free", "Extent", "PVs", "LVs"]}>
          {inventory.vgs.map((vg) => (
            <tr key={vg.uuid}>
              <th scope="row">{vg.name}</th>
              <td>
                <Bytes n={vg.sizeBytes} />
              </td>
              <td>
                <Bytes n={vg.freeBytes} />
              </td>
              <td>
                <Bytes n={vg.extentSizeBytes} />
              </td>
              <td>{vg.pvCount}</td>
              <td>{vg.lvCount}</td>
            </tr>
          ))}
        </Table>
      )}

      <h3>Logical volumes</h3>
      <div className="filters">
        <label>
          Kind
          <select value={kind} onChange={(e) => setKind(KINDS.find((k) => k === e.target.value) ?? "")}>
            <option value="">all</option>
            {KINDS.map((k) => (
              <option key={k} value={k}>
                {KIND_NAMES[k]}
              </option>
            ))}
          </select>
        </label>
        <label className="grow">
          Filter
          <input type="search" value={q} onChange={(e) => setQ(e.target.value)} placeholder="vg/lv" />
        </label>
      </div>
      {lvs.length === 0 ? (
        <Empty>No logical volumes{kind || q ? " match" : ""}.</Empty>
      ) : (
        <div className="scroll-y">
          <Table label="Logical volumes" columns={["LV", "Kind", "Size", "Open", "Origin / pool", "Tags"]}>
            {lvs.map((lv) => (
              <tr key={lv.uuid}>
                <th scope="row">
                  {lv.vg}/{lv.name}
                  {lv.migratedAway ? (
                    <div className="small muted">
                      migrated away (<Link href={`/jobs/${lv.migratedAway.jobId}`}>job #{lv.migratedAway.jobId}</Link>)
                    </div>
                  ) : null}
                </th>
                <td>{KIND_NAMES[lv.kind] ?? lv.kind}</td>
                <td>
                  <Bytes n={lv.sizeBytes} />
                </td>
                <td>{lv.open ? "open" : lv.active ? "active" : "inactive"}</td>
                <td>{lv.origin ?? lv.pool ?? "–"}</td>
                <td className="small">{lv.tags.join(", ") || "–"}</td>
              </tr>
            ))}
          </Table>
        </div>
      )}

      {inventory.snapshots.length > 0 ? (
        <>
          <h3>Snapshots</h3>
          <Table label="Snapshots" columns={["Snapshot", "Origin", "Type", "Size", "Fill", "State"]}>
            {inventory.snapshots.map((s) => (
              <tr key={`${s.vg}/${s.name}`}>
                <th scope="row">
                  {s.vg}/{s.name}
                </th>
                <td>{s.origin}</td>
                <td>{s.type}</td>
                <td>
                  <Bytes n={s.sizeBytes} />
                </td>
                <td>
                  <Pct value={s.fillPercent} label={`${s.name} fill`} />
                </td>
                <td className={s.state === "valid" ? "" : "bad"}>{s.state}</td>
              </tr>
            ))}
          </Table>
        </>
      ) : null}

      {inventory.thinPools.length > 0 ? (
        <>
          <h3>Thin pools</h3>
          <Table label="Thin pools" columns={["Pool", "Size", "Data used", "Metadata used", "Mode"]}>
            {inventory.thinPools.map((p) => (
              <tr key={`${p.vg}/${p.name}`}>
                <th scope="row">
                  {p.vg}/{p.name}
                </th>
                <td>
                  <Bytes n={p.sizeBytes} />
                </td>
                <td>
                  <Pct value={p.dataPercent} label={`${p.name} data`} />
                </td>
                <td>
                  <Pct value={p.metadataPercent} label={`${p.name} metadata`} />
                </td>
                <td>
                  {p.mode ?? "–"}
                  {p.needsCheck ? <span className="bad"> needs check</span> : null}
                  {p.heldMetadataRoot !== null ? <span className="bad"> metadata snapshot held</span> : null}
                </td>
              </tr>
            ))}
          </Table>
        </>
      ) : null}

      <h3>Virtual machines</h3>
      {inventory.domains === null ? (
        <Empty>libvirt (virsh) is not installed on this host.</Empty>
      ) : inventory.domains.length === 0 ? (
        <Empty>No libvirt domains defined.</Empty>
      ) : (
        <Table label="Virtual machines" columns={["Domain", "State", "Disks"]}>
          {inventory.domains.map((d) => (
            <tr key={d.name}>
              <th scope="row">{d.name}</th>
              <td>{d.state ?? "unknown"}</td>
              <td>
                {d.error ? <span className="bad">{d.error}</span> : null}
                {d.refusal && !d.error ? <div className="muted small">cannot be migrated: {d.refusal}</div> : null}
                {d.disks.map((disk) => (
                  <div key={disk.target}>
                    {disk.target}: {disk.source ?? "(no source)"}
                    {disk.refused ? <span className="muted small"> · not migrated: {disk.refused.reason}</span> : null}
                  </div>
                ))}
              </td>
            </tr>
          ))}
        </Table>
      )}

      <h3>Tools</h3>
      <dl className="tools">
        {Object.entries(inventory.tools).map(([tool, version]) => (
          <div key={tool}>
            <dt>{tool in TOOL_NAMES ? TOOL_NAMES[tool as keyof typeof TOOL_NAMES] : tool}</dt>
            <dd className={version ? "" : "muted"}>{version ?? "not found"}</dd>
          </div>
        ))}
      </dl>
    </div>
  );
}
