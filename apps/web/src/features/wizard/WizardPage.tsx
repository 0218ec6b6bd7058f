import type { Host } from "@blockferry/contracts";
import { useEffect, useState } from "react";
import { Bytes, HumanText, Rate } from "../../components/Figures.tsx";
import { Empty, ErrorState, Loading } from "../../components/QueryState.tsx";
import { errorText } from "../../lib/api.ts";
import {
  ASSUMED_COPY_BYTES_PER_SECOND,
  estimateCopySeconds,
  formatApproxDuration,
  formatBytes,
  formatDuration,
  formatRate,
} from "../../lib/format.ts";
import { Link, navigate } from "../../lib/router.tsx";
import { useHosts, useInventory } from "../hosts/api.ts";
import { useCreateMigration, usePrechecks } from "../jobs/api.ts";
import { ChoiceList } from "./ChoiceList.tsx";
import { type Draft, emptyDraft, targetChoices, toCreateMigration, validLvName, volumeChoices } from "./plan.ts";

const STEPS = ["Source host", "Volume", "Destination host", "Destination", "Options", "Review"] as const;

function HostStep(props: { legend: string; hosts: Host[]; value?: number; onChange(id: number): void }) {
  if (props.hosts.length === 0)
    return (
      <Empty>
        No hosts yet. <Link href="/hosts">Add and trust your hypervisors</Link> first.
      </Empty>
    );
  return (
    <ChoiceList
      name={props.legend}
      legend={props.legend}
      value={props.value === undefined ? undefined : String(props.value)}
      onChange={(k) => props.onChange(Number(k))}
      choices={props.hosts.map((h) => ({
        key: String(h.id),
        title: h.name,
        detail:
          h.status === "trusted"
            ? `${h.username}@${h.address}:${h.port}`
            : `not usable: host key ${h.status.replace("_", " ")}`,
        disabled: h.status !== "trusted",
      }))}
    />
  );
}

function VolumeStep({ draft, set }: { draft: Draft; set(p: Partial<Draft>): void }) {
  const inv = useInventory(draft.sourceHostId);
  if (inv.isPending) return <Loading what="the source host's volumes" />;
  if (inv.isError) return <ErrorState error={inv.error} retry={() => void inv.refetch()} />;
  const choices = volumeChoices(inv.data);
  if (choices.length === 0) return <Empty>This host has no logical volume that can be migrated.</Empty>;
  return (
    <ChoiceList
      name="volume"
      legend="VM disk or logical volume to move"
      value={draft.source ? `${draft.source.vg}/${draft.source.lv}` : undefined}
      onChange={(key) => {
        const c = choices.find((x) => x.key === key);
        if (!c) return;
        set({
          source: { vg: c.vg, lv: c.lv, sizeBytes: c.sizeBytes, ...(c.domain ? { domain: c.domain } : {}) },
          targetLv: c.lv,
          ...(c.domain
            ? { controller: "libvirt", libvirt: { ...draft.libvirt, domain: c.domain } }
            : { controller: draft.controller === "libvirt" ? "none" : draft.controller }),
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
          </>
        ),
      }))}
    />
  );
}

function TargetStep({ draft, set }: { draft: Draft; set(p: Partial<Draft>): void }) {
  const inv = useInventory(draft.targetHostId);
  if (inv.isPending) return <Loading what="the destination's volume groups" />;
  if (inv.isError) return <ErrorState error={inv.error} retry={() => void inv.refetch()} />;
  const need = draft.source?.sizeBytes ?? 0;
  const choices = targetChoices(inv.data);
  const lvOk = validLvName(draft.targetLv);
  return (
    <>
      {choices.length === 0 ? (
        <Empty>The destination has no volume group.</Empty>
      ) : (
        <ChoiceList
          name="target"
          legend={`Where the ${formatBytes(need)} volume goes`}
          value={
            draft.target
              ? draft.target.thinPool
                ? `${draft.target.vg}/${draft.target.thinPool}`
                : draft.target.vg
              : undefined
          }
          onChange={(key) => {
            const c = choices.find((x) => x.key === key);
            if (c) set({ target: { vg: c.vg, ...(c.thinPool ? { thinPool: c.thinPool } : {}) } });
          }}
          choices={choices.map((c) => ({
            key: c.key,
            title: c.label,
            detail: (
              <>
                <Bytes n={c.freeBytes} /> free{!c.thinPool && c.freeBytes < need ? " · too small" : ""}
              </>
            ),
            disabled: !c.thinPool && c.freeBytes < need,
          }))}
        />
      )}
      <label className="field">
        Name of the new LV
        <input
          value={draft.targetLv}
          onChange={(e) => set({ targetLv: e.target.value })}
          aria-invalid={!lvOk}
          aria-describedby="target-lv-help"
        />
        <span id="target-lv-help" className={lvOk ? "muted small" : "error small"}>
          {lvOk ? "Letters, digits and + _ . - ; must be free on the destination." : "Not a valid LVM name."}
        </span>
      </label>
    </>
  );
}

function OptionsStep({ draft, set }: { draft: Draft; set(p: Partial<Draft>): void }) {
  const cmd = (k: keyof Draft["commands"], v: string) => set({ commands: { ...draft.commands, [k]: v } });
  return (
    <div className="form-grid">
      <ChoiceList
        name="controller"
        legend="VM control"
        value={draft.controller}
        onChange={(k) => set({ controller: k })}
        choices={[
          { key: "none", title: "None", detail: "I stop and start the VM myself" },
          { key: "libvirt", title: "libvirt", detail: "virsh shutdown, then define and start on the destination" },
          { key: "commands", title: "Commands", detail: "my own stop and start commands, run over SSH" },
        ]}
      />
      <div>
        {draft.controller === "libvirt" ? (
          <>
            <label className="field">
              Domain
              <input
                value={draft.libvirt.domain}
                onChange={(e) => set({ libvirt: { ...draft.libvirt, domain: e.target.value } })}
              />
            </label>
            <label className="field">
              Shutdown timeout (s)
              <input
                type="number"
                min={1}
                max={3600}
                value={draft.libvirt.shutdownTimeoutSeconds}
                onChange={(e) => set({ libvirt: { ...draft.libvirt, shutdownTimeoutSeconds: Number(e.target.value) } })}
              />
            </label>
            <label className="inline">
              <input
                type="checkbox"
                checked={draft.libvirt.undefineSource}
                onChange={(e) => set({ libvirt: { ...draft.libvirt, undefineSource: e.target.checked } })}
              />
              Undefine the VM on the source afterwards
            </label>
          </>
        ) : draft.controller === "commands" ? (
          <>
            <label className="field">
              Stop command on the source
              <input value={draft.commands.stopSource} onChange={(e) => cmd("stopSource", e.target.value)} required />
            </label>
            <label className="field">
              Start command on the destination ({"{device}"} is the new LV's path)
              <input value={draft.commands.startTarget} onChange={(e) => cmd("startTarget", e.target.value)} required />
            </label>
            <label className="field">
              Restart command on the source, used on cancel (optional)
              <input value={draft.commands.startSource} onChange={(e) => cmd("startSource", e.target.value)} />
            </label>
          </>
        ) : (
          <p className="muted">Blockferry will not stop or start anything: stop the VM before you cut over.</p>
        )}
      </div>
      <ChoiceList
        name="cutover"
        legend="Cutover"
        value={draft.cutover}
        onChange={(k) => set({ cutover: k })}
        choices={[
          { key: "manual", title: "Manual", detail: "wait in sync until I press Cut over" },
          { key: "auto", title: "Automatic", detail: "cut over as soon as the copy is in sync" },
        ]}
      />
      <div>
        <label className="field">
          Bandwidth limit (MiB/s, empty for none)
          <input
            type="number"
            min={1}
            step="any"
            value={draft.bandwidthMiBps}
            onChange={(e) => set({ bandwidthMiBps: e.target.value })}
          />
        </label>
        <label className="field">
          Catch-up passes before cutover
          <input
            type="number"
            min={0}
            max={10}
            value={draft.catchUpPasses}
            onChange={(e) => set({ catchUpPasses: Math.max(0, Math.min(10, Number(e.target.value) || 0)) })}
          />
          <span className="muted small">
            Each pass re-sends what changed during the last one, shrinking the outage.
          </span>
        </label>
      </div>
    </div>
  );
}

function ReviewStep({ draft, hosts }: { draft: Draft; hosts: Host[] }) {
  const body = toCreateMigration(draft);
  // Prechecks follow the plan; debounced so a burst of edits costs one request.
  const [debounced, setDebounced] = useState(body);
  const bodyKey = JSON.stringify(body);
  // biome-ignore lint/correctness/useExhaustiveDependencies: the serialised plan is the dependency.
  useEffect(() => {
    const t = setTimeout(() => setDebounced(body), 300);
    return () => clearTimeout(t);
  }, [bodyKey]);
  const pre = usePrechecks(debounced);
  const create = useCreateMigration();
  if (!body) return <ErrorState error={new Error("The plan is incomplete: go back and fill in the missing step.")} />;
  const name = (id: number) => hosts.find((h) => h.id === id)?.name ?? `#${id}`;
  const est = pre.data?.estimate;
  // The dashboard's own estimate: the server's assumes a rate but ignores the bandwidth limit.
  const toCopy = est?.bytes || draft.source?.sizeBytes;
  const copy = estimateCopySeconds(toCopy, { limitBytesPerSecond: body?.options?.bandwidthLimitBytesPerSecond });
  return (
    <div>
      <dl className="review">
        <dt>From</dt>
        <dd>
          {name(body.source.hostId)} {body.source.vg}/{body.source.lv} (<Bytes n={draft.source?.sizeBytes} />)
        </dd>
        <dt>To</dt>
        <dd>
          {name(body.target.hostId)} {body.target.vg}/{body.target.lv}
          {body.target.thinPool ? ` in thin pool ${body.target.thinPool}` : ""}
        </dd>
        <dt>VM control</dt>
        <dd>
          {body.vm.controller === "libvirt"
            ? `libvirt stops and starts domain ${body.vm.domain}`
            : body.vm.controller === "commands"
              ? "your stop and start commands"
              : "none: you stop and start the VM yourself"}
        </dd>
        <dt>Cutover</dt>
        <dd>
          {body.cutover === "auto" ? "automatic, as soon as the copy is in sync" : "manual, when you press Cut over"}
        </dd>
        <dt>Bandwidth</dt>
        <dd>
          {body.options?.bandwidthLimitBytesPerSecond ? (
            <Rate n={body.options.bandwidthLimitBytesPerSecond} />
          ) : (
            "unlimited"
          )}
        </dd>
        <dt>Catch-up passes</dt>
        <dd>{body.options?.catchUpPasses ?? 0}</dd>
      </dl>
      <h3>Prechecks</h3>
      {pre.isPending || pre.isFetching ? (
        <Loading what="prechecks against both hosts" />
      ) : pre.isError ? (
        <ErrorState error={pre.error} retry={() => void pre.refetch()} />
      ) : (
        <>
          <ul className="checks" aria-label="Precheck results">
            {pre.data.checks.map((c) => (
              <li key={c.name} className={c.ok ? "good" : "bad"}>
                <span aria-hidden="true">{c.ok ? "✓" : "✗"}</span> <strong>{c.name}</strong>
                <span className="sr-only">{c.ok ? " passed" : " failed"}</span>
                {c.message ? (
                  <>
                    : <HumanText text={c.message} />
                  </>
                ) : (
                  ""
                )}
              </li>
            ))}
          </ul>
          <section className="estimate" aria-label="Estimate">
            <div>
              <span className="stat-label">To copy</span> <Bytes n={toCopy} />
            </div>
            <div>
              <span className="stat-label">Copy time (estimate)</span>{" "}
              <span data-testid="estimate-copy">{formatApproxDuration(copy?.seconds)}</span>
            </div>
            <div>
              <span className="stat-label">Expected outage</span>{" "}
              <span data-testid="estimate-outage">
                {est?.expectedOutageSeconds == null
                  ? "known after the first catch-up pass"
                  : formatDuration(est.expectedOutageSeconds)}
              </span>
            </div>
          </section>
          <p className="muted small" data-testid="estimate-assumption">
            {copy?.limited
              ? `An estimate: the full copy at the bandwidth limit of ${formatRate(copy.bytesPerSecond)}, below the ${formatRate(ASSUMED_COPY_BYTES_PER_SECOND)} assumed otherwise.`
              : `An estimate: the full copy at an assumed ${formatRate(ASSUMED_COPY_BYTES_PER_SECOND)}${copy ? ", with no lower bandwidth limit set" : ""}.`}{" "}
            Disks and network decide the real rate; the job page shows it as it is measured.
          </p>
        </>
      )}
      {create.isError ? (
        <p className="error" role="alert">
          {errorText(create.error)}
        </p>
      ) : null}
      <button
        type="button"
        className="primary big"
        disabled={!pre.data?.ok || create.isPending || pre.isFetching}
        onClick={() => create.mutate(body, { onSuccess: (m) => navigate(`/jobs/${m.id}`) })}
      >
        {create.isPending ? "Starting…" : "Start migration"}
      </button>
    </div>
  );
}

function stepDone(step: number, d: Draft): boolean {
  switch (step) {
    case 0:
      return d.sourceHostId !== undefined;
    case 1:
      return d.source !== undefined;
    case 2:
      return d.targetHostId !== undefined;
    case 3:
      return d.target !== undefined && validLvName(d.targetLv);
    case 4:
      return toCreateMigration(d) !== null;
    default:
      return false;
  }
}

export function WizardPage() {
  const hosts = useHosts();
  const [step, setStep] = useState(0);
  const [draft, setDraft] = useState<Draft>(emptyDraft);
  const set = (p: Partial<Draft>) => setDraft((d) => ({ ...d, ...p }));
  if (hosts.isPending) return <Loading what="hosts" />;
  if (hosts.isError) return <ErrorState error={hosts.error} retry={() => void hosts.refetch()} />;
  const reachable = (i: number) => STEPS.slice(0, i).every((_, j) => stepDone(j, draft));

  return (
    <section aria-labelledby="wizard-title" className="wizard">
      <h2 id="wizard-title">New migration</h2>
      <nav aria-label="Wizard steps">
        <ol className="stepper">
          {STEPS.map((s, i) => (
            <li key={s}>
              <button
                type="button"
                aria-current={i === step ? "step" : undefined}
                className={i < step && stepDone(i, draft) ? "done" : ""}
                disabled={!reachable(i)}
                onClick={() => setStep(i)}
              >
                <span className="step-no">{i + 1}</span> {s}
              </button>
            </li>
          ))}
        </ol>
      </nav>
      <div className="card wizard-body">
        <h3>{STEPS[step]}</h3>
        {step === 0 ? (
          <HostStep
            legend="Source host"
            hosts={hosts.data}
            value={draft.sourceHostId}
            onChange={(id) => set({ sourceHostId: id, source: undefined })}
          />
        ) : step === 1 ? (
          <VolumeStep draft={draft} set={set} />
        ) : step === 2 ? (
          <HostStep
            legend="Destination host"
            hosts={hosts.data}
            value={draft.targetHostId}
            onChange={(id) => set({ targetHostId: id, target: undefined })}
          />
        ) : step === 3 ? (
          <TargetStep draft={draft} set={set} />
        ) : step === 4 ? (
          <OptionsStep draft={draft} set={set} />
        ) : (
          <ReviewStep draft={draft} hosts={hosts.data} />
        )}
      </div>
      <div className="wizard-nav">
        <button type="button" onClick={() => setStep((s) => s - 1)} disabled={step === 0}>
          Back
        </button>
        {step < STEPS.length - 1 ? (
          <button
            type="button"
            className="primary"
            onClick={() => setStep((s) => s + 1)}
            disabled={!stepDone(step, draft)}
          >
            Next: {STEPS[step + 1]}
          </button>
        ) : null}
      </div>
    </section>
  );
}
