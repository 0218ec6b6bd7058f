import type { VmControl } from "@blockferry/contracts";
import { ChoiceList } from "./ChoiceList.tsx";
import type { ControllerAvailability } from "./defaults.ts";
import type { DiskUsage, Draft, Plan } from "./plan.ts";
import { FIELD } from "./precheck-fixes.ts";

type Controller = VmControl["controller"];

const CONTROLLERS: { key: Controller; title: string; detail: string }[] = [
  { key: "none", title: "None", detail: "I stop and start the VM myself" },
  { key: "libvirt", title: "libvirt", detail: "virsh shutdown, then define and start on the destination" },
  { key: "commands", title: "Commands", detail: "my own stop and start commands, run over SSH" },
];

/** Why the wizard suggested this controller for the disks, in words. */
function suggestedBecause(usage: DiskUsage, key: Controller): string {
  if (key === "libvirt") return `suggested: VM ${usage.domain} uses these disks`;
  if (key === "commands")
    return usage.domain
      ? `suggested: VM ${usage.domain} uses these disks, and libvirt cannot run here`
      : "suggested: a volume is in use, so something must stop its user";
  return "suggested: nothing has the volumes open";
}

/**
 * How the VM is stopped and started: the controller (those the hosts cannot run shown disabled, with the reason)
 * and its fields. `plan` is the resolved draft; `suggested` is what the defaults picked.
 */
export function VmControlFields(props: {
  plan: Plan;
  suggested: Controller;
  available: Record<Controller, ControllerAvailability>;
  set(p: Partial<Draft>): void;
}) {
  const { plan, set, available } = props;
  const cmd = (k: keyof Draft["commands"], v: string) => set({ commands: { ...plan.commands, [k]: v } });
  return (
    <div className="form-grid">
      <ChoiceList
        id={FIELD.controller}
        name="controller"
        legend="VM control"
        value={plan.controller}
        onChange={(k) => set({ controller: k })}
        choices={CONTROLLERS.map((c) => {
          const a = available[c.key];
          const why = !a.ok
            ? `not available: ${a.reason}`
            : c.key === props.suggested
              ? suggestedBecause(plan.usage, c.key)
              : "";
          return {
            key: c.key,
            title: c.title,
            detail: (
              <>
                {c.detail}
                {why ? <span className={`wizard-why${a.ok ? "" : " unavailable"}`}>{why}</span> : null}
              </>
            ),
            disabled: !a.ok,
          };
        })}
      />
      <div>
        {plan.controller === "libvirt" ? (
          <>
            <label className="field">
              Domain
              <input
                value={plan.libvirt.domain}
                onChange={(e) => set({ libvirt: { ...plan.libvirt, domain: e.target.value } })}
              />
            </label>
            <label className="field">
              Shutdown timeout (s)
              <input
                type="number"
                min={1}
                max={3600}
                value={plan.libvirt.shutdownTimeoutSeconds}
                onChange={(e) => set({ libvirt: { ...plan.libvirt, shutdownTimeoutSeconds: Number(e.target.value) } })}
              />
            </label>
            <label className="inline">
              <input
                type="checkbox"
                checked={plan.libvirt.undefineSource}
                onChange={(e) => set({ libvirt: { ...plan.libvirt, undefineSource: e.target.checked } })}
              />
              Undefine the VM on the source afterwards
            </label>
            <label className="inline">
              <input
                type="checkbox"
                checked={!plan.libvirt.startTarget}
                onChange={(e) => set({ libvirt: { ...plan.libvirt, startTarget: !e.target.checked } })}
              />
              Leave the VM shut off on the destination (maintenance move)
            </label>
          </>
        ) : plan.controller === "commands" ? (
          <>
            <label className="field">
              Stop command on the source
              <input value={plan.commands.stopSource} onChange={(e) => cmd("stopSource", e.target.value)} required />
            </label>
            <label className="field">
              Start command on the destination ({"{device}"} is the new LV's path
              {plan.disks.length > 1 ? <>, the first disk's; {"{devices}"} all of them in order</> : ""})
              <input value={plan.commands.startTarget} onChange={(e) => cmd("startTarget", e.target.value)} required />
            </label>
            <label className="field">
              Restart command on the source, used on cancel (optional)
              <input value={plan.commands.startSource} onChange={(e) => cmd("startSource", e.target.value)} />
              <span className="muted small">
                Run if you cancel after the VM was stopped, to bring it back up on the source.
              </span>
            </label>
          </>
        ) : (
          <p className="muted">Blockferry will not stop or start anything: stop the VM before you cut over.</p>
        )}
      </div>
    </div>
  );
}
