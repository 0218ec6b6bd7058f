import { useEffect, useState } from "react";
import { ErrorState, Loading } from "../../components/QueryState.tsx";
import { useHosts, useInventory } from "../hosts/api.ts";
import { nameConflict, nameSettled, sharedTargets } from "./conflicts.ts";
import { availabilityFor, defaultTargetHost, type Facts, resolveDraft, suggestController } from "./defaults.ts";
import { type Draft, emptyDraft, MAX_MIGRATION_DISKS, toCreateMigration, validLvName } from "./plan.ts";
import { type FieldId, type StepIndex, WIZARD_STEPS } from "./precheck-fixes.ts";
import { ReviewStep } from "./ReviewStep.tsx";
import { WhatStep } from "./WhatStep.tsx";
import { WhereStep } from "./WhereStep.tsx";

/** Focuses a field by id; for a group of radio cards, its chosen card (or the first one that can be chosen). */
function focusField(id: FieldId) {
  const el = document.getElementById(id);
  if (!el) return;
  const target =
    el instanceof HTMLFieldSetElement
      ? (el.querySelector<HTMLInputElement>("input:checked") ??
        el.querySelector<HTMLInputElement>("input:not(:disabled)"))
      : el;
  target?.focus();
  el.scrollIntoView({ block: "center" });
}

/** Three screens for a VM's disks or LVs picked by hand: what moves, where each goes (and how), review and start. */
export function WizardPage() {
  const hosts = useHosts();
  const [step, setStep] = useState<StepIndex>(0);
  const [draft, setDraft] = useState<Draft>(emptyDraft);
  // A precheck's link asks for a field; it is focused once its step has rendered.
  const [focus, setFocus] = useState<FieldId | null>(null);
  const set = (p: Partial<Draft>) => setDraft((d) => ({ ...d, ...p }));
  const hostList = hosts.data ?? [];
  const sourceInv = useInventory(draft.sourceHostId);
  const targetInv = useInventory(draft.targetHostId ?? defaultTargetHost(hostList, draft.sourceHostId));
  useEffect(() => {
    if (focus === null) return;
    focusField(focus);
    setFocus(null);
  }, [focus]);
  if (hosts.isPending) return <Loading what="hosts" />;
  if (hosts.isError) return <ErrorState error={hosts.error} retry={() => void hosts.refetch()} />;

  const facts: Facts = { hosts: hostList, sourceInventory: sourceInv.data, targetInventory: targetInv.data };
  const plan = resolveDraft(draft, facts);
  const available = availabilityFor(plan, facts);
  const shared = sharedTargets(plan.disks);
  const problems = plan.disks.map((disk, i) => ({
    conflict: nameConflict(disk, targetInv.data),
    sharedWith: shared.get(i),
  }));
  const body = toCreateMigration(plan);
  const vm = plan.pick === "vm" ? sourceInv.data?.domains?.find((d) => d.name === plan.domain) : undefined;
  const vmRefused = vm?.refusal;
  const leftBehind = (vm?.disks ?? []).flatMap((d) => (d.refused ? [`${d.target}: ${d.refused.reason}`] : []));
  const done = [
    plan.sourceHostId !== undefined &&
      plan.sources.length > 0 &&
      plan.sources.length <= MAX_MIGRATION_DISKS &&
      !vmRefused,
    body !== null &&
      plan.disks.every((d) => validLvName(d.targetLv ?? "")) &&
      problems.every((p) => p.sharedWith === undefined && nameSettled(p.conflict, plan.reuseTarget)) &&
      plan.controller !== undefined &&
      available[plan.controller].ok,
  ];
  const reachable = (i: number) => done.slice(0, i).every(Boolean);
  const goTo = (s: StepIndex, field?: FieldId) => {
    setStep(s);
    if (field) setFocus(field);
  };

  return (
    <section aria-labelledby="wizard-title" className="wizard">
      <h2 id="wizard-title">New migration</h2>
      <nav aria-label="Wizard steps">
        <ol className="stepper">
          {WIZARD_STEPS.map((s, i) => (
            <li key={s}>
              <button
                type="button"
                aria-current={i === step ? "step" : undefined}
                className={i < step && done[i] ? "done" : ""}
                disabled={!reachable(i)}
                onClick={() => goTo(i as StepIndex)}
              >
                <span className="step-no">{i + 1}</span> {s}
              </button>
            </li>
          ))}
        </ol>
      </nav>
      <div className="card wizard-body">
        <h3>{STEP_TITLES[step]}</h3>
        {step === 0 ? (
          <WhatStep draft={plan} hosts={hostList} inventory={sourceInv} set={set} />
        ) : step === 1 ? (
          <WhereStep
            plan={plan}
            hosts={hostList}
            inventory={targetInv}
            problems={problems}
            suggestedController={plan.sources.length ? suggestController(plan.usage, available) : "none"}
            available={available}
            set={set}
          />
        ) : (
          <ReviewStep
            plan={plan}
            body={body}
            hosts={hostList}
            leftBehind={leftBehind}
            goTo={goTo}
            setNetworkMap={(networkMap) => setDraft((d) => ({ ...d, libvirt: { ...d.libvirt, networkMap } }))}
          />
        )}
      </div>
      <div className="wizard-nav">
        <button type="button" onClick={() => goTo((step - 1) as StepIndex)} disabled={step === 0}>
          Back
        </button>
        {step < WIZARD_STEPS.length - 1 ? (
          <button
            type="button"
            className="primary"
            onClick={() => goTo((step + 1) as StepIndex)}
            disabled={!done[step]}
          >
            Next: {WIZARD_STEPS[step + 1]}
          </button>
        ) : null}
      </div>
    </section>
  );
}

const STEP_TITLES: Record<StepIndex, string> = {
  0: "What to move",
  1: "Where it goes, and how",
  2: "Review and start",
};
