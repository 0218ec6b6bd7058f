/**
 * Where in the wizard a failed precheck is fixed: its step and the field to focus. Checks no wizard field can
 * fix (missing tools, hash tool) have none; their message says what to install. Check names come from
 * apps/server/src/jobs/prechecks.ts. Pure; tested in apps/web/test/wizard-precheck-fixes.test.ts.
 */

export const WIZARD_STEPS = ["What", "Where", "Review"] as const;
export type StepIndex = 0 | 1 | 2;

/** Element ids of the wizard's fields, so a link can focus one. */
export const FIELD = {
  sourceHost: "wizard-source-host",
  pick: "wizard-pick",
  volume: "wizard-volume",
  targetHost: "wizard-target-host",
  snapshotSize: "wizard-snapshot-size",
  controller: "wizard-controller",
  dataPath: "wizard-data-path",
} as const;

/** Fields each disk has: where it goes, and the new LV's name. */
export const diskField = (what: "target" | "targetLv", disk: number) =>
  what === "target" ? `wizard-target-${disk}` : `wizard-target-lv-${disk}`;

export type FieldId = (typeof FIELD)[keyof typeof FIELD] | ReturnType<typeof diskField>;

export interface Fix {
  step: StepIndex;
  field: FieldId;
  /** What the link says: "Change the source host". */
  label: string;
}

const FIXES: Record<string, (disk: number) => Fix> = {
  "source host": () => ({ step: 0, field: FIELD.sourceHost, label: "Change the source host" }),
  "source VG name": () => ({ step: 0, field: FIELD.volume, label: "Change the volume" }),
  "source LV name": () => ({ step: 0, field: FIELD.volume, label: "Change the volume" }),
  "source volume": () => ({ step: 0, field: FIELD.volume, label: "Change the volume" }),
  "snapshot space": () => ({ step: 1, field: FIELD.snapshotSize, label: "Change the snapshot size" }),
  "target host": () => ({ step: 1, field: FIELD.targetHost, label: "Change the destination host" }),
  "target VG name": (i) => ({ step: 1, field: diskField("target", i), label: "Change the destination" }),
  "target VG": (i) => ({ step: 1, field: diskField("target", i), label: "Change the destination" }),
  "target room": (i) => ({ step: 1, field: diskField("target", i), label: "Change the destination" }),
  "target LV name": (i) => ({ step: 1, field: diskField("targetLv", i), label: "Change the name" }),
  "target name": (i) => ({ step: 1, field: diskField("targetLv", i), label: "Change the name" }),
  "VM control": () => ({ step: 1, field: FIELD.controller, label: "Change how the VM is stopped and started" }),
  "direct path": () => ({ step: 1, field: FIELD.dataPath, label: "Change the data path" }),
};

/**
 * A check's disk and own name: a disk set's checks are named `disk N: <check>` (the server's set prechecks), and
 * what only the set can tell `<check> (all disks)`; a one-disk migration's are plain.
 */
export function splitCheckName(name: string): { disk: number | null; check: string } {
  const m = /^disk (\d+): (.*)$/.exec(name);
  if (m?.[1] && m[2]) return { disk: Number(m[1]), check: m[2] };
  return { disk: null, check: name.replace(/ \(all disks\)$/, "") };
}

/**
 * Checks a host's own settings fix, outside the wizard: the direct path needs the destination's migration address
 * (where the source reaches it), edited on that host's page.
 */
export const hostFixFor = (checkName: string, targetHostId: number): { href: string; label: string } | null =>
  splitCheckName(checkName).check === "direct path"
    ? { href: `/hosts/${targetHostId}?edit=migration-address`, label: "Set the destination's migration address" }
    : null;

export function fixFor(checkName: string): Fix | null {
  const { disk, check } = splitCheckName(checkName);
  return FIXES[check]?.(disk ?? 0) ?? null;
}
