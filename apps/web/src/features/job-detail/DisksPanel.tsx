import type { Migration } from "@blockferry/contracts";
import { Bytes } from "../../components/Figures.tsx";
import { ProgressBar } from "../../components/StateBadge.tsx";
import { Table } from "../../components/Table.tsx";
import { percent } from "../../lib/format.ts";
import { DISK_STATE_WORDS, type DiskFigures } from "../../lib/job-disks.ts";

const volume = (v: { vg: string; lv: string }) => `${v.vg}/${v.lv}`;

/**
 * A disk set's disks, one row each: where it goes, its size and kind, where it stands and its copy's progress, with
 * the pass that progress counts while it is live.
 */
export function DisksPanel({ job, figures, moving }: { job: Migration; figures: DiskFigures[]; moving: boolean }) {
  return (
    <div className="card" data-testid="disks-panel">
      <h3>Disks</h3>
      <Table label="Disks" className="disks" columns={["#", "Disk", "Size", "State", "Progress"]}>
        {job.disks.map((d) => {
          const f = figures.find((x) => x.index === d.index);
          const done = f?.bytesDone ?? d.bytesDone;
          const total = f?.bytesTotal ?? d.bytesTotal;
          const reached = done + (moving ? (f?.bytesStreamed ?? 0) : 0);
          return (
            <tr key={d.index} data-testid={`disk-row-${d.index}`}>
              <td>{d.index}</td>
              <td>
                {volume(d.source)}
                <div className="muted small">
                  → {volume(d.target)}
                  {d.target.thinPool ? ` (thin pool ${d.target.thinPool})` : ""}
                </div>
              </td>
              <td>
                <Bytes n={d.sizeBytes} />
                {d.kind ? <div className="muted small">{d.kind}</div> : null}
              </td>
              <td data-testid={`disk-state-${d.index}`}>{DISK_STATE_WORDS[d.state]}</td>
              <td className="progress-cell">
                <ProgressBar
                  value={percent(done, total)}
                  ahead={percent(reached, total)}
                  label={`Disk ${d.index} copy progress`}
                />
                <span className="small muted" data-testid={`disk-progress-${d.index}`}>
                  <Bytes n={reached} /> of <Bytes n={total} /> ({percent(reached, total).toFixed(1)}%)
                </span>
                {f?.pass ? (
                  <span className="small muted">
                    {" · "}
                    <span data-testid={`disk-pass-${d.index}`}>{f.pass}</span>
                  </span>
                ) : null}
              </td>
            </tr>
          );
        })}
      </Table>
    </div>
  );
}

/** Which disk's chunk map shows: one tab per disk. */
export function DiskSwitcher(props: { job: Migration; value: number; onChange(disk: number): void }) {
  return (
    <div className="disk-switcher" role="tablist" aria-label="Disk of the chunk map">
      {props.job.disks.map((d) => (
        <button
          key={d.index}
          type="button"
          role="tab"
          aria-selected={d.index === props.value}
          className={d.index === props.value ? "chosen" : ""}
          onClick={() => props.onChange(d.index)}
        >
          disk {d.index} · {volume(d.source)}
        </button>
      ))}
    </div>
  );
}
