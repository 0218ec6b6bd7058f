import type { Host, Inventory } from "@blockferry/contracts";
import type { UseQueryResult } from "@tanstack/react-query";
import { Bytes } from "../../components/Figures.tsx";
import { Empty, ErrorState, Loading } from "../../components/QueryState.tsx";
import { CheckList, ChoiceList } from "./ChoiceList.tsx";
import { HostChoices } from "./HostChoices.tsx";
import {
  type Draft,
  keyOf,
  MAX_MIGRATION_DISKS,
  type Plan,
  sourceOf,
  type VmChoice,
  vmChoices,
  volumeChoices,
} from "./plan.ts";
import { FIELD } from "./precheck-fixes.ts";

/**
 * A new set of disks brings its own suggestions: destinations, names, controller and domain follow it again; the
 * network map was another VM's.
 */
const freshDisks = (draft: Draft): Partial<Draft> => ({
  targets: {},
  targetLvs: {},
  controller: undefined,
  reuseTarget: false,
  libvirt: { ...draft.libvirt, domain: "", networkMap: {} },
});

/** Screen 1, what moves: the source host, then a VM (its LV disks) or logical volumes picked by hand. */
export function WhatStep(props: {
  draft: Plan;
  hosts: Host[];
  inventory: UseQueryResult<Inventory>;
  set(p: Partial<Draft>): void;
}) {
  const { draft, set } = props;
  return (
    <>
      <HostChoices
        id={FIELD.sourceHost}
        legend="Source host"
        hosts={props.hosts}
        value={draft.sourceHostId}
        onChange={(id) =>
          set({ sourceHostId: id, pick: undefined, domain: undefined, sources: [], ...freshDisks(draft) })
        }
      />
      {draft.sourceHostId === undefined ? null : <Disks {...props} />}
    </>
  );
}

function Disks({
  draft,
  inventory: inv,
  set,
}: {
  draft: Plan;
  inventory: UseQueryResult<Inventory>;
  set(p: Partial<Draft>): void;
}) {
  if (inv.isPending) return <Loading what="the source host's VMs and volumes" />;
  if (inv.isError) return <ErrorState error={inv.error} retry={() => void inv.refetch()} />;
  const vms = vmChoices(inv.data);
  return (
    <div className="wizard-section">
      <ChoiceList
        id={FIELD.pick}
        name="pick"
        legend="A VM or logical volumes"
        value={draft.pick}
        onChange={(pick) => {
          if (pick !== draft.pick) set({ pick, domain: undefined, sources: [], ...freshDisks(draft) });
        }}
        choices={[
          {
            key: "vm",
            title: "A VM",
            detail:
              inv.data.domains === null
                ? "libvirt is not installed on this host"
                : `all its disks, moved together (${vms.length} libvirt ${vms.length === 1 ? "VM" : "VMs"} here)`,
            disabled: inv.data.domains === null,
          },
          { key: "lvs", title: "Logical volumes", detail: "one or more, picked by hand" },
        ]}
      />
      {draft.pick === "vm" ? (
        <Vms vms={vms} draft={draft} set={set} />
      ) : (
        <Volumes inv={inv.data} draft={draft} set={set} />
      )}
    </div>
  );
}

function Vms({ vms, draft, set }: { vms: VmChoice[]; draft: Plan; set(p: Partial<Draft>): void }) {
  if (vms.length === 0) return <Empty>This host has no libvirt VM: pick logical volumes instead.</Empty>;
  return (
    <ChoiceList
      id={FIELD.volume}
      name="vm"
      legend="VM to move"
      value={draft.domain}
      onChange={(name) => {
        const vm = vms.find((v) => v.name === name);
        if (vm) set({ domain: vm.name, sources: vm.sources, ...freshDisks(draft) });
      }}
      choices={vms.map((vm) => ({
        key: vm.name,
        title: `VM ${vm.name}`,
        disabled: vm.refusal !== null,
        detail: (
          <>
            <span data-testid={`vm-state-${vm.name}`}>{vm.state ?? "state unknown"}</span>
            {vm.sources.length ? (
              <>
                {" · "}
                {vm.sources.length} {vm.sources.length === 1 ? "disk" : "disks"},{" "}
                <Bytes n={vm.sources.reduce((a, s) => a + s.sizeBytes, 0)} />
              </>
            ) : null}
            <span className="vm-disks">
              {vm.disks.map((d) => (
                <span key={d.target} className={`vm-disk${d.volume ? "" : " refused"}`}>
                  {d.target}:{" "}
                  {d.volume ? (
                    <>
                      {keyOf(d.volume)} · <Bytes n={d.volume.sizeBytes} /> · {d.volume.kind}
                    </>
                  ) : (
                    <>not moved: {d.refused?.reason}</>
                  )}
                </span>
              ))}
            </span>
            {vm.refusal ? <span className="wizard-why unavailable">cannot be migrated: {vm.refusal}</span> : null}
          </>
        ),
      }))}
    />
  );
}

function Volumes({ inv, draft, set }: { inv: Inventory; draft: Plan; set(p: Partial<Draft>): void }) {
  const choices = volumeChoices(inv);
  if (choices.length === 0) return <Empty>This host has no logical volume that can be migrated.</Empty>;
  const picked = draft.sources.map(keyOf);
  const full = picked.length >= MAX_MIGRATION_DISKS;
  const partial = partlyPickedVms(vmChoices(inv), picked);
  return (
    <>
      <LvList choices={choices} picked={picked} full={full} draft={draft} set={set} />
      {partial.map(({ vm, missing }) => (
        <div key={vm.name} className="banner warning" role="status" data-testid="vm-partly-picked">
          VM {vm.name} also has {missing.map((s) => `${s.disk} (${keyOf(s)})`).join(", ")}, not picked: started on the
          destination without {missing.length === 1 ? "it" : "them"}, it would not find{" "}
          {missing.length === 1 ? "that disk" : "those disks"}.{" "}
          {vm.refusal === null ? (
            <button
              type="button"
              onClick={() => set({ pick: "vm", domain: vm.name, sources: vm.sources, ...freshDisks(draft) })}
            >
              Move VM {vm.name} with all its disks
            </button>
          ) : null}
        </div>
      ))}
    </>
  );
}

/** VMs some but not all of whose LV disks are picked by hand, with the disks left out. */
function partlyPickedVms(vms: VmChoice[], picked: readonly string[]) {
  return vms.flatMap((vm) => {
    const missing = vm.sources.filter((s) => !picked.includes(keyOf(s)));
    return missing.length > 0 && missing.length < vm.sources.length ? [{ vm, missing }] : [];
  });
}

function LvList({
  choices,
  picked,
  full,
  draft,
  set,
}: {
  choices: ReturnType<typeof volumeChoices>;
  picked: string[];
  full: boolean;
  draft: Plan;
  set(p: Partial<Draft>): void;
}) {
  return (
    <CheckList
      id={FIELD.volume}
      name="volume"
      legend={`Logical volumes to move (one VM's disks: up to ${MAX_MIGRATION_DISKS}, moved together)`}
      value={picked}
      onToggle={(key, checked) => {
        const c = choices.find((x) => x.key === key);
        if (!c) return;
        const sources = checked ? [...draft.sources, sourceOf(c)] : draft.sources.filter((s) => keyOf(s) !== key);
        // Destinations and names are kept by source key: the other disks keep theirs.
        set({ sources, controller: undefined, libvirt: { ...draft.libvirt, domain: "" } });
      }}
      choices={choices.map((c) => ({
        key: c.key,
        title: c.key,
        disabled: full && !picked.includes(c.key),
        detail: (
          <>
            {c.domain ? `disk ${c.disk} of VM ${c.domain} · ` : ""}
            <Bytes n={c.sizeBytes} /> · {c.kind === "origin" ? "has snapshots" : c.kind}
            {c.open ? " · in use" : ""}
            {c.migratedAwayBy !== undefined && (
              <span className="wizard-why unavailable">
                {" "}
                · already migrated away by job #{c.migratedAwayBy}: this is the kept copy
              </span>
            )}
          </>
        ),
      }))}
    />
  );
}
