import type { Host, Inventory } from "@blockferry/contracts";
import type { UseQueryResult } from "@tanstack/react-query";
import { Bytes } from "../../components/Figures.tsx";
import { Empty, ErrorState, Loading } from "../../components/QueryState.tsx";
import { ChoiceList } from "./ChoiceList.tsx";
import { HostChoices } from "./HostChoices.tsx";
import { type Draft, sourceOf, volumeChoices } from "./plan.ts";
import { FIELD } from "./precheck-fixes.ts";

/** Screen 1, what moves: the source host, then the VM disk or LV on it. */
export function WhatStep(props: {
  draft: Draft;
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
        onChange={(id) => set({ sourceHostId: id, source: undefined })}
      />
      {draft.sourceHostId === undefined ? null : <Volumes {...props} />}
    </>
  );
}

function Volumes({
  draft,
  inventory: inv,
  set,
}: {
  draft: Draft;
  inventory: UseQueryResult<Inventory>;
  set(p: Partial<Draft>): void;
}) {
  if (inv.isPending) return <Loading what="the source host's volumes" />;
  if (inv.isError) return <ErrorState error={inv.error} retry={() => void inv.refetch()} />;
  const choices = volumeChoices(inv.data);
  if (choices.length === 0) return <Empty>This host has no logical volume that can be migrated.</Empty>;
  return (
    <div className="wizard-section">
      <ChoiceList
        id={FIELD.volume}
        name="volume"
        legend="VM disk or logical volume to move"
        value={draft.source ? `${draft.source.vg}/${draft.source.lv}` : undefined}
        onChange={(key) => {
          const c = choices.find((x) => x.key === key);
          // A new volume brings its own suggestions: name, controller and domain follow it again.
          if (c)
            set({
              source: sourceOf(c),
              targetLv: undefined,
              controller: undefined,
              reuseTarget: false,
              libvirt: { ...draft.libvirt, domain: "" },
            });
        }}
        choices={choices.map((c) => ({
          key: c.key,
          title: c.domain ? `VM ${c.domain} · ${c.disk}` : c.key,
          detail: (
            <>
              {c.domain ? `${c.key} · ` : ""}
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
    </div>
  );
}
