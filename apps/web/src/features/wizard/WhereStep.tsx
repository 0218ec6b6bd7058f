import type { Host, Inventory, VmControl } from "@blockferry/contracts";
import { DATA_PATH_CHOICES } from "@blockferry/contracts/vocabulary";
import type { UseQueryResult } from "@tanstack/react-query";
import { CutoverPolicyFields } from "../../components/CutoverPolicyFields.tsx";
import { Bytes } from "../../components/Figures.tsx";
import { Empty, ErrorState, Loading } from "../../components/QueryState.tsx";
import { readAutoPolicy } from "../../lib/cutover-policy.ts";
import { formatBytes } from "../../lib/format.ts";
import { ChoiceList } from "./ChoiceList.tsx";
import type { NameConflict } from "./conflicts.ts";
import type { ControllerAvailability } from "./defaults.ts";
import { HostChoices } from "./HostChoices.tsx";
import {
  type DiskPlan,
  type Draft,
  fits,
  keyOf,
  MIN_SNAPSHOT_MIB,
  type Plan,
  snapshotBytes,
  targetChoices,
  validLvName,
} from "./plan.ts";
import { diskField, FIELD } from "./precheck-fixes.ts";
import { VmControlFields } from "./VmControlFields.tsx";

/** What the name field says of a disk's target name: a conflict with the destination, or another disk's name. */
export interface DiskNameProblem {
  conflict: NameConflict | null;
  /** The index of an earlier disk of this migration going to the same LV. */
  sharedWith: number | undefined;
}

/**
 * Screen 2, where it goes and how: destination host, then per disk a VG or thin pool and the new LV's name (with
 * what the inventory knows about it), VM control and the options. `plan` is the draft with its defaults filled in.
 */
export function WhereStep(props: {
  plan: Plan;
  hosts: Host[];
  inventory: UseQueryResult<Inventory>;
  problems: DiskNameProblem[];
  suggestedController: VmControl["controller"];
  available: Record<VmControl["controller"], ControllerAvailability>;
  set(p: Partial<Draft>): void;
}) {
  const { plan, set } = props;
  return (
    <>
      <HostChoices
        id={FIELD.targetHost}
        legend="Destination host"
        hosts={props.hosts}
        value={plan.targetHostId}
        onChange={(id) => set({ targetHostId: id, targets: {}, reuseTarget: false })}
      />
      {plan.targetHostId === undefined ? null : (
        <div className="wizard-section">
          <Destinations {...props} />
        </div>
      )}
      <div className="wizard-section">
        <VmControlFields plan={plan} suggested={props.suggestedController} available={props.available} set={set} />
      </div>
      <div className="wizard-section">
        <Options plan={plan} set={set} />
      </div>
    </>
  );
}

function Destinations(props: {
  plan: Plan;
  inventory: UseQueryResult<Inventory>;
  problems: DiskNameProblem[];
  set(p: Partial<Draft>): void;
}) {
  const { plan, inventory: inv } = props;
  if (inv.isPending) return <Loading what="the destination's volume groups" />;
  if (inv.isError) return <ErrorState error={inv.error} retry={() => void inv.refetch()} />;
  const choices = targetChoices(inv.data);
  if (choices.length === 0) return <Empty>The destination has no volume group.</Empty>;
  const many = plan.disks.length > 1;
  return (
    <>
      {plan.disks.map((disk, i) =>
        disk.source ? (
          <DiskDestination
            key={keyOf(disk.source)}
            index={i}
            disk={disk}
            many={many}
            plan={plan}
            choices={choices}
            problem={props.problems[i] ?? { conflict: null, sharedWith: undefined }}
            set={props.set}
          />
        ) : null,
      )}
    </>
  );
}

/** One disk: where it goes and under which name; a set's disks each in a group named by the disk. */
function DiskDestination(props: {
  index: number;
  disk: DiskPlan;
  many: boolean;
  plan: Plan;
  choices: ReturnType<typeof targetChoices>;
  problem: DiskNameProblem;
  set(p: Partial<Draft>): void;
}) {
  const { index: i, disk, plan, choices, problem, set } = props;
  const source = disk.source;
  if (!source) return null;
  const key = keyOf(source);
  const need = source.sizeBytes;
  const name = disk.targetLv ?? "";
  const nameOk = validLvName(name);
  const { conflict, sharedWith } = problem;
  const setName = (v: string) => set({ targetLvs: { ...plan.targetLvs, [key]: v }, reuseTarget: false });
  const helpId = `target-lv-help-${i}`;
  const title = `${source.disk ? `${source.disk} · ` : ""}${key}`;
  const body = (
    <div className="form-grid">
      <ChoiceList
        id={diskField("target", i)}
        name={`target-${i}`}
        legend={props.many ? `Where it goes (${formatBytes(need)})` : `Where the ${formatBytes(need)} volume goes`}
        value={
          disk.target
            ? disk.target.thinPool
              ? `${disk.target.vg}/${disk.target.thinPool}`
              : disk.target.vg
            : undefined
        }
        onChange={(k) => {
          const c = choices.find((x) => x.key === k);
          if (c)
            set({
              targets: { ...plan.targets, [key]: { vg: c.vg, ...(c.thinPool ? { thinPool: c.thinPool } : {}) } },
              reuseTarget: false,
            });
        }}
        choices={choices.map((c) => ({
          key: c.key,
          title: c.label,
          detail: (
            <>
              <Bytes n={c.freeBytes} /> free{fits(c, need) ? "" : " · too small"}
            </>
          ),
          disabled: !fits(c, need),
        }))}
      />
      <div>
        <label className="field">
          Name of the new LV
          <input
            id={diskField("targetLv", i)}
            value={name}
            onChange={(e) => setName(e.target.value)}
            aria-invalid={
              !nameOk || sharedWith !== undefined || (conflict !== null && !(conflict.reusable && plan.reuseTarget))
            }
            aria-describedby={helpId}
          />
        </label>
        <div id={helpId} aria-live="polite">
          {!nameOk ? (
            <p className="error small">Not a valid LVM name: letters, digits and + _ . - only.</p>
          ) : sharedWith !== undefined ? (
            <p className="error small" data-testid="name-shared">
              Disk {sharedWith} of this migration goes to {disk.target?.vg}/{name} already: give this one another name.
            </p>
          ) : conflict ? (
            <NameConflictNote conflict={conflict} reuse={plan.reuseTarget} setName={setName} set={set} />
          ) : (
            <p className="muted small">
              Letters, digits and + _ . -{disk.target ? `; free in ${disk.target.vg} on the destination.` : "."}
            </p>
          )}
        </div>
      </div>
    </div>
  );
  if (!props.many) return body;
  return (
    <fieldset className="wizard-disk" aria-label={`Disk ${i}: ${title}`} data-testid={`wizard-disk-${i}`}>
      <legend>
        Disk {i}: {title} ({formatBytes(need)}, {source.kind === "thin" ? "thin" : "classic"})
      </legend>
      {body}
    </fieldset>
  );
}

/** The conflict at the name field, with the ways out: a free name, or reusing the LV when it can be. */
function NameConflictNote(props: {
  conflict: NameConflict;
  reuse: boolean;
  setName(name: string): void;
  set(p: Partial<Draft>): void;
}) {
  const { conflict, reuse, set } = props;
  return (
    <div className={`wizard-conflict${conflict.reusable && reuse ? " settled" : ""}`} data-testid="name-conflict">
      <p className="small">{conflict.message}</p>
      <button type="button" onClick={() => props.setName(conflict.suggestion)}>
        Use {conflict.suggestion}
      </button>
      {conflict.reusable ? (
        <label className="inline small">
          <input type="checkbox" checked={reuse} onChange={(e) => set({ reuseTarget: e.target.checked })} />
          Write into it (its data is overwritten)
        </label>
      ) : null}
    </div>
  );
}

function Options({ plan, set }: { plan: Draft; set(p: Partial<Draft>): void }) {
  const snapshotOk = snapshotBytes(plan.snapshotSizeMiB) !== null;
  return (
    <div className="form-grid">
      <div>
        <ChoiceList
          name="cutover"
          legend="Cutover"
          value={plan.cutover}
          onChange={(k) => set({ cutover: k })}
          choices={[
            { key: "manual", title: "Manual", detail: "wait in sync until I press Cut over" },
            {
              key: "auto",
              title: "Automatic",
              detail: "cut over once the copy is in sync and the predicted outage fits (optional budget and window)",
            },
          ]}
        />
        {plan.cutover === "auto" ? (
          <div className="wizard-policy" data-testid="wizard-policy">
            <CutoverPolicyFields
              idPrefix="wizard-policy"
              value={plan.cutoverPolicy}
              errors={readAutoPolicy(plan.cutoverPolicy).errors}
              onChange={(p) => set({ cutoverPolicy: { ...plan.cutoverPolicy, ...p } })}
            />
          </div>
        ) : null}
      </div>
      <div>
        <ChoiceList
          id={FIELD.dataPath}
          name="dataPath"
          legend="Data path"
          value={plan.dataPath}
          onChange={(k) => set({ dataPath: k })}
          choices={[
            { key: "auto", title: "Auto", detail: DATA_PATH_CHOICES.auto },
            { key: "direct", title: "Direct", detail: DATA_PATH_CHOICES.direct },
            { key: "relay", title: "Through this server", detail: DATA_PATH_CHOICES.relay },
          ]}
        />
        <label className="field">
          Bandwidth limit (MiB/s, empty for none)
          <input
            type="number"
            min={1}
            step="any"
            value={plan.bandwidthMiBps}
            onChange={(e) => set({ bandwidthMiBps: e.target.value })}
          />
        </label>
        <label className="field">
          Catch-up passes before cutover
          <input
            type="number"
            min={0}
            max={10}
            value={plan.catchUpPasses}
            onChange={(e) => set({ catchUpPasses: Math.max(0, Math.min(10, Number(e.target.value) || 0)) })}
          />
          <span className="muted small">
            Each pass re-sends what changed during the last one, shrinking the outage.
          </span>
        </label>
        {plan.sources.length > 0 && plan.sources.every((s) => s.kind === "thin") ? null : (
          <label className="field">
            Snapshot size (MiB, empty for the default)
            <input
              id={FIELD.snapshotSize}
              type="number"
              min={MIN_SNAPSHOT_MIB}
              step="any"
              value={plan.snapshotSizeMiB}
              onChange={(e) => set({ snapshotSizeMiB: e.target.value })}
              aria-invalid={!snapshotOk}
            />
            <span className={snapshotOk ? "muted small" : "error small"}>
              {snapshotOk
                ? "Holds what the VM writes during the copy; the default is a quarter of the volume, at least 32 MiB."
                : `At least ${MIN_SNAPSHOT_MIB} MiB.`}
            </span>
          </label>
        )}
      </div>
    </div>
  );
}
