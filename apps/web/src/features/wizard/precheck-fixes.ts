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
  volume: "wizard-volume",
  targetHost: "wizard-target-host",
  target: "wizard-target",
  targetLv: "wizard-target-lv",
  snapshotSize: "wizard-snapshot-size",
  controller: "wizard-controller",
  dataPath: "wizard-data-path",
} as const;
export type FieldId = (typeof FIELD)[keyof typeof FIELD];

export interface Fix {
  step: StepIndex;
  field: FieldId;
  /** What the link says: "Change the source host". */
  label: string;
}

const FIXES: Record<string, Fix> = {
  "source host": { step: 0, field: FIELD.sourceHost, label: "Change the source host" },
  "source VG name": { step: 0, field: FIELD.volume, label: "Change the volume" },
  "source LV name": { step: 0, field: FIELD.volume, label: "Change the volume" },
  "source volume": { step: 0, field: FIELD.volume, label: "Change the volume" },
  "snapshot space": { step: 1, field: FIELD.snapshotSize, label: "Change the snapshot size" },
  "target host": { step: 1, field: FIELD.targetHost, label: "Change the destination host" },
  "target VG name": { step: 1, field: FIELD.target, label: "Change the destination" },
  "target VG": { step: 1, field: FIELD.target, label: "Change the destination" },
  "target room": { step: 1, field: FIELD.target, label: "Change the destination" },
  "target LV name": { step: 1, field: FIELD.targetLv, label: "Change the name" },
  "target name": { step: 1, field: FIELD.targetLv, label: "Change the name" },
  "VM control": { step: 1, field: FIELD.controller, label: "Change how the VM is stopped and started" },
  "direct path": { step: 1, field: FIELD.dataPath, label: "Change the data path" },
};

/**
 * Checks a host's own settings fix, outside the wizard: the direct path needs the destination's migration address
 * (where the source reaches it), edited on that host's page.
 */
export const hostFixFor = (checkName: string, targetHostId: number): { href: string; label: string } | null =>
  checkName === "direct path"
    ? { href: `/hosts/${targetHostId}?edit=migration-address`, label: "Set the destination's migration address" }
    : null;

export const fixFor = (checkName: string): Fix | null => FIXES[checkName] ?? null;
