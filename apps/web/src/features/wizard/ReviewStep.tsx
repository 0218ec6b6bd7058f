import type { CreateMigrationSet, Host, MissingNetwork } from "@blockferry/contracts";
import { PHASE_LABELS } from "@blockferry/contracts/vocabulary";
import { useEffect, useState } from "react";
import { Bytes, HumanText, Rate } from "../../components/Figures.tsx";
import { ErrorState, Loading } from "../../components/QueryState.tsx";
import { errorText } from "../../lib/api.ts";
import { policyWords } from "../../lib/cutover-policy.ts";
import {
  ASSUMED_COPY_BYTES_PER_SECOND,
  estimateCopySeconds,
  formatApproxDuration,
  formatDuration,
  formatRate,
  formatTime,
} from "../../lib/format.ts";
import { Link, navigate } from "../../lib/router.tsx";
import { useCreateMigration, usePrechecks } from "../jobs/api.ts";
import { type CommandLine, lvDevice, vmCommands } from "./commands-preview.ts";
import { applyNetworkMap, type NetworkRow, networkRows, sameMap } from "./network-map.ts";
import type { Plan } from "./plan.ts";
import {
  type FieldId,
  type Fix,
  fixFor,
  hostFixFor,
  type StepIndex,
  splitCheckName,
  WIZARD_STEPS,
} from "./precheck-fixes.ts";

/**
 * Screen 3: the plan in words, the exact VM commands, live prechecks (each failure linked to its fix; networks the
 * destination lacks mapped here), Start.
 */
export function ReviewStep(props: {
  plan: Plan;
  body: CreateMigrationSet | null;
  /** The picked VM's disks that stay where they are, each with the inventory's reason. */
  leftBehind: string[];
  hosts: Host[];
  goTo(step: StepIndex, field: FieldId): void;
  /** Replaces the libvirt controller's network map (the prechecks then run again). */
  setNetworkMap(map: Record<string, string>): void;
}) {
  const { plan, body, hosts } = props;
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
  const sourceBytes = plan.sources.reduce((a, s) => a + s.sizeBytes, 0);
  // The dashboard's own estimate: the server's assumes a rate but ignores the bandwidth limit.
  const toCopy = est?.bytes || sourceBytes;
  const copy = estimateCopySeconds(toCopy, { limitBytesPerSecond: body.options?.bandwidthLimitBytesPerSecond });
  const targetLv = (d: CreateMigrationSet["disks"][number]) => d.target.lv ?? d.source.lv;
  const many = body.disks.length > 1;
  const networkMap = body.vm.controller === "libvirt" ? (body.vm.networkMap ?? {}) : {};
  /** A disk as the review names it: its number and, for a VM's disk, its device there. */
  const diskLabel = (i: number) => {
    const dev = plan.sources[i]?.disk;
    return `disk ${i}${dev ? ` (${dev})` : ""}`;
  };
  return (
    <div>
      <dl className="review">
        {plan.pick === "vm" && plan.domain ? (
          <>
            <dt>VM</dt>
            <dd data-testid="review-vm">
              {plan.domain} on {name(body.sourceHostId)}, {body.disks.length}{" "}
              {body.disks.length === 1 ? "disk" : "disks"} (<Bytes n={sourceBytes} />)
            </dd>
          </>
        ) : null}
        {props.leftBehind.length ? (
          <>
            <dt>Not moved</dt>
            <dd data-testid="review-left-behind">
              {props.leftBehind.map((l) => (
                <div key={l}>{l}</div>
              ))}
            </dd>
          </>
        ) : null}
        <dt>{many ? "Disks" : "From"}</dt>
        <dd>
          {many ? (
            <ul className="review-disks" data-testid="review-disks">
              {body.disks.map((d, i) => (
                <li key={`${d.source.vg}/${d.source.lv}`}>
                  {diskLabel(i)}: {name(body.sourceHostId)} {d.source.vg}/{d.source.lv} (
                  <Bytes n={plan.sources[i]?.sizeBytes} />) → {name(body.targetHostId)} {d.target.vg}/{targetLv(d)}
                  {d.target.thinPool ? ` in thin pool ${d.target.thinPool}` : ""}
                </li>
              ))}
            </ul>
          ) : (
            <>
              {name(body.sourceHostId)} {body.disks[0]?.source.vg}/{body.disks[0]?.source.lv} (
              <Bytes n={sourceBytes} />)
            </>
          )}
        </dd>
        {many ? null : (
          <>
            <dt>To</dt>
            <dd>
              {name(body.targetHostId)} {body.disks[0]?.target.vg}/{body.disks[0] ? targetLv(body.disks[0]) : ""}
              {body.disks[0]?.target.thinPool ? ` in thin pool ${body.disks[0].target.thinPool}` : ""}
              {body.options?.reuseTarget ? " (the existing LV, overwritten)" : ""}
            </dd>
          </>
        )}
        <dt>VM control</dt>
        <dd data-testid="review-vm-control">
          {body.vm.controller === "libvirt"
            ? body.vm.startTarget === false
              ? `libvirt stops domain ${body.vm.domain} and defines it on ${name(body.targetHostId)}, left shut off there (maintenance move)`
              : `libvirt stops and starts domain ${body.vm.domain}`
            : body.vm.controller === "commands"
              ? "your stop and start commands"
              : "none: you stop and start the VM yourself"}
        </dd>
        {body.vm.controller === "libvirt" ? (
          <>
            <dt>Networks</dt>
            <dd data-testid="review-networks">
              {Object.keys(networkMap).length
                ? Object.entries(networkMap).map(([from, to]) => (
                    <div key={from}>
                      {from} on {name(body.sourceHostId)} → {to} on {name(body.targetHostId)}
                    </div>
                  ))
                : `as on ${name(body.sourceHostId)}`}
            </dd>
          </>
        ) : null}
        <dt>Cutover</dt>
        <dd data-testid="review-cutover">
          {typeof body.cutover === "object"
            ? policyWords(body.cutover, formatTime)
            : body.cutover === "auto"
              ? "automatic, as soon as the copy is in sync"
              : "manual, when you press Cut over"}
        </dd>
        <dt>Data path</dt>
        <dd data-testid="review-data-path">
          {body.options?.dataPath === "direct"
            ? `direct: ${name(body.sourceHostId)} sends to ${name(body.targetHostId)} over its own SSH`
            : body.options?.dataPath === "auto"
              ? `auto: direct from ${name(body.sourceHostId)} to ${name(body.targetHostId)} if the prechecks say it works, else through this server`
              : "through this server"}
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
        <dt>Snapshot</dt>
        <dd>
          {plan.sources.every((x) => x.kind === "thin") ? (
            "thin: shares the volume's pool"
          ) : body.options?.snapshotSizeBytes ? (
            <Bytes n={body.options.snapshotSizeBytes} />
          ) : (
            "default size"
          )}
        </dd>
      </dl>
      <VmCommandList
        body={body}
        hosts={{
          source: name(body.sourceHostId),
          target: name(body.targetHostId),
          devices: body.disks.map((d) => ({
            source: lvDevice(d.source.vg, d.source.lv),
            target: lvDevice(d.target.vg, targetLv(d)),
          })),
        }}
      />
      <h3>Prechecks</h3>
      {pre.isPending || pre.isFetching ? (
        <Loading what="prechecks against both hosts" />
      ) : pre.isError ? (
        <ErrorState error={pre.error} retry={() => void pre.refetch()} />
      ) : (
        <>
          <ul className="checks" aria-label="Precheck results">
            {pre.data.checks.map((c) => {
              const fix = c.ok ? null : fixFor(c.name);
              const hostFix = c.ok && !c.warning ? null : hostFixFor(c.name, body.targetHostId);
              const { disk, check } = splitCheckName(c.name);
              return (
                <li key={c.name} className={c.warning ? "warn" : c.ok ? "good" : "bad"}>
                  <span aria-hidden="true">{c.warning ? "!" : c.ok ? "✓" : "✗"}</span>{" "}
                  {disk === null ? null : <span className="check-disk">{diskLabel(disk)} · </span>}
                  <strong>{disk === null ? c.name : check}</strong>
                  <span className="sr-only">{c.warning ? " warning" : c.ok ? " passed" : " failed"}</span>
                  {c.message ? (
                    <>
                      : <HumanText text={c.message} />
                    </>
                  ) : (
                    ""
                  )}
                  {hostFix ? (
                    <>
                      {" "}
                      <Link className="wizard-fix" href={hostFix.href}>
                        {hostFix.label}
                      </Link>
                    </>
                  ) : null}
                  {fix ? <FixLink fix={fix} goTo={props.goTo} /> : null}
                </li>
              );
            })}
          </ul>
          {body.vm.controller === "libvirt" ? (
            <NetworkMapping
              missing={pre.data.checks.find((c) => c.missingNetworks)?.missingNetworks}
              map={networkMap}
              source={name(body.sourceHostId)}
              target={name(body.targetHostId)}
              // The same map runs the same prechecks: asked again, they are run again.
              apply={(next) => (sameMap(next, networkMap) ? void pre.refetch() : props.setNetworkMap(next))}
            />
          ) : null}
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

function FixLink({ fix, goTo }: { fix: Fix; goTo(step: StepIndex, field: FieldId): void }) {
  return (
    <>
      {" "}
      <button type="button" className="wizard-fix" onClick={() => goTo(fix.step, fix.field)}>
        {fix.label} (step {fix.step + 1}, {WIZARD_STEPS[fix.step]})
      </button>
    </>
  );
}

/**
 * A row per network or bridge the destination lacks (or that is mapped already): the name to use there, typed or
 * picked from what the destination has, applied at once so the prechecks run again with the map.
 */
function NetworkMapping(props: {
  missing: MissingNetwork[] | undefined;
  map: Record<string, string>;
  source: string;
  target: string;
  apply(map: Record<string, string>): void;
}) {
  const rows = networkRows(props.missing, props.map);
  // Typed names start from the map; a new precheck result or map starts them again.
  return rows.length ? <NetworkRows key={JSON.stringify(rows)} rows={rows} {...props} /> : null;
}

function NetworkRows(props: {
  rows: NetworkRow[];
  map: Record<string, string>;
  source: string;
  target: string;
  apply(map: Record<string, string>): void;
}) {
  const { rows, source, target } = props;
  const [typed, setTyped] = useState(() => Object.fromEntries(rows.map((r) => [r.source, r.mappedTo])));
  const next = applyNetworkMap(props.map, typed);
  const missing = rows.some((r) => r.missing);
  return (
    <section className="network-map" aria-labelledby="network-map-title">
      <h4 id="network-map-title">Networks on {target}</h4>
      <p className="muted small">
        {missing
          ? `${target} lacks what these interfaces attach to on ${source}: map each to a network or bridge ${target} has, then run the prechecks again.`
          : `The VM's interfaces are moved to these on ${target}; clear a name to attach them as on ${source}.`}
      </p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (next) props.apply(next);
        }}
      >
        {rows.map((r, i) => (
          <label key={r.source} className="field network-row">
            <span>
              {r.kind ?? "network"} {r.source} on {source} → on {target}
              {r.missing ? <span className="error"> (missing)</span> : null}
            </span>
            <input
              value={typed[r.source] ?? ""}
              list={r.offered.length ? `network-offered-${i}` : undefined}
              placeholder={`a name on ${target}`}
              onChange={(e) => setTyped((t) => ({ ...t, [r.source]: e.target.value }))}
            />
            {r.offered.length ? (
              <>
                <datalist id={`network-offered-${i}`}>
                  {r.offered.map((o) => (
                    <option key={o} value={o} />
                  ))}
                </datalist>
                <span className="muted small">
                  {target} has: {r.offered.join(", ")}
                </span>
              </>
            ) : null}
          </label>
        ))}
        {next ? null : (
          <p className="error" role="alert">
            A name is letters, digits and _ . : - only, at most 64 characters.
          </p>
        )}
        <button type="submit" disabled={!next}>
          Map and re-run prechecks
        </button>
      </form>
    </section>
  );
}

/** The stop, start and restart commands exactly as the VM controller will run them, host by host. */
function VmCommandList({ body, hosts }: { body: CreateMigrationSet; hosts: Parameters<typeof vmCommands>[1] }) {
  const cmds = vmCommands(body.vm, hosts);
  return (
    <section className="wizard-commands" aria-label="VM commands">
      <h3>Commands Blockferry will run</h3>
      {body.vm.controller === "none" ? (
        <p className="muted">None: Blockferry stops and starts nothing. Stop the VM yourself before you cut over.</p>
      ) : (
        <>
          <CommandGroup
            title={`${sentence(PHASE_LABELS.stop_vm)}: at cutover`}
            lines={cmds.stop}
            testId="stop-commands"
          />
          <CommandGroup
            title={`${sentence(PHASE_LABELS.start_vm)}: once the copy is verified`}
            lines={cmds.start}
            testId="start-commands"
          />
          {cmds.startNote ? (
            <p className="muted small" data-testid="start-note">
              {cmds.startNote}
            </p>
          ) : null}
          <CommandGroup
            title="On cancel, to run it again on the source"
            lines={cmds.restart}
            testId="restart-commands"
            none="nothing: no restart command given, so after a cancel you start the VM yourself"
          />
        </>
      )}
    </section>
  );
}

const sentence = (label: string) => label.charAt(0).toUpperCase() + label.slice(1);

function CommandGroup(props: { title: string; lines: CommandLine[]; testId: string; none?: string }) {
  return (
    <>
      <h4>{props.title}</h4>
      {props.lines.length === 0 ? (
        <p className="muted small">{props.none}</p>
      ) : (
        <ol data-testid={props.testId}>
          {props.lines.map((l) => (
            <li key={`${l.host} ${l.command}`}>
              <span className="muted">on {l.host}:</span> <code>{l.command}</code>
              {l.note ? <span className="muted small"> ({l.note})</span> : null}
            </li>
          ))}
        </ol>
      )}
    </>
  );
}
