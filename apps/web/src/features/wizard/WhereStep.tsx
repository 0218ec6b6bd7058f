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
import { type Draft, fits, MIN_SNAPSHOT_MIB, snapshotBytes, targetChoices, validLvName } from "./plan.ts";
import { FIELD } from "./precheck-fixes.ts";
import { VmControlFields } from "./VmControlFields.tsx";

/**
 * Screen 2, where it goes and how: destination host, VG or thin pool, the new LV's name (with what the inventory
 * knows about it), VM control and the options. `plan` is the draft with its defaults filled in.
 */
export function WhereStep(props: {
  plan: Draft;
  hosts: Host[];
  inventory: UseQueryResult<Inventory>;
  conflict: NameConflict | null;
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
        onChange={(id) => set({ targetHostId: id, target: undefined, reuseTarget: false })}
      />
      {plan.targetHostId === undefined ? null : (
        <div className="wizard-section">
          <Destination {...props} />
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

function Destination({
  plan,
  inventory: inv,
  conflict,
  set,
}: {
  plan: Draft;
  inventory: UseQueryResult<Inventory>;
  conflict: NameConflict | null;
  set(p: Partial<Draft>): void;
}) {
  if (inv.isPending) return <Loading what="the destination's volume groups" />;
  if (inv.isError) return <ErrorState error={inv.error} retry={() => void inv.refetch()} />;
  const need = plan.source?.sizeBytes ?? 0;
  const choices = targetChoices(inv.data);
  const name = plan.targetLv ?? "";
  const nameOk = validLvName(name);
  return (
    <div className="form-grid">
      {choices.length === 0 ? (
        <Empty>The destination has no volume group.</Empty>
      ) : (
        <ChoiceList
          id={FIELD.target}
          name="target"
          legend={`Where the ${formatBytes(need)} volume goes`}
          value={
            plan.target
              ? plan.target.thinPool
                ? `${plan.target.vg}/${plan.target.thinPool}`
                : plan.target.vg
              : undefined
          }
          onChange={(key) => {
            const c = choices.find((x) => x.key === key);
            if (c) set({ target: { vg: c.vg, ...(c.thinPool ? { thinPool: c.thinPool } : {}) }, reuseTarget: false });
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
      )}
      <div>
        <label className="field">
          Name of the new LV
          <input
            id={FIELD.targetLv}
            value={name}
            onChange={(e) => set({ targetLv: e.target.value, reuseTarget: false })}
            aria-invalid={!nameOk || (conflict !== null && !(conflict.reusable && plan.reuseTarget))}
            aria-describedby="target-lv-help"
          />
        </label>
        <div id="target-lv-help" aria-live="polite">
          {!nameOk ? (
            <p className="error small">Not a valid LVM name: letters, digits and + _ . - only.</p>
          ) : conflict ? (
            <NameConflictNote conflict={conflict} reuse={plan.reuseTarget} set={set} />
          ) : (
            <p className="muted small">
              Letters, digits and + _ . -{plan.target ? `; free in ${plan.target.vg} on the destination.` : "."}
            </p>
          )}
        </div>
      </div>
    </div>
  );
}

/** The conflict at the name field, with the ways out: a free name, or reusing the LV when it can be. */
function NameConflictNote(props: { conflict: NameConflict; reuse: boolean; set(p: Partial<Draft>): void }) {
  const { conflict, reuse, set } = props;
  return (
    <div className={`wizard-conflict${conflict.reusable && reuse ? " settled" : ""}`} data-testid="name-conflict">
      <p className="small">{conflict.message}</p>
      <button type="button" onClick={() => set({ targetLv: conflict.suggestion, reuseTarget: false })}>
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
        {plan.source?.kind === "thin" ? null : (
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
