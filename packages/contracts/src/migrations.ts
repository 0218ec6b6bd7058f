import { type Static, Type } from "typebox";
import { MAX_ID } from "./common.ts";
import { CutoverPolicy, CutoverWait, OutagePrediction } from "./cutover.ts";
import { JobError, PassDataPath } from "./stored-job.ts";
import { JOB_STATES, PHASES } from "./vocabulary.ts";

const LvmName = Type.String({ minLength: 1, maxLength: 127, pattern: "^[A-Za-z0-9+_.][A-Za-z0-9+_.-]*$" });

/** The API schemas of the vocabulary (vocabulary.ts holds the lists, their types and labels). */
export const JobState = Type.Enum(JOB_STATES, { $id: "JobState" });
export type JobState = Static<typeof JobState>;
export const PhaseSchema = Type.Enum(PHASES);

/** A libvirt network's or a host bridge's name (what an interface's `<source network|bridge>` names). */
/** A libvirt network or host bridge name as vm.networkMap takes it (the schema's rule, for clients to check first). */
export const NETWORK_NAME_PATTERN = "^[A-Za-z0-9_.:-]+$";
export const NETWORK_NAME_MAX = 64;
const NetworkName = Type.String({ minLength: 1, maxLength: NETWORK_NAME_MAX, pattern: NETWORK_NAME_PATTERN });

export const VmControl = Type.Union([
  Type.Object({ controller: Type.Literal("none") }, { additionalProperties: false }),
  Type.Object(
    {
      controller: Type.Literal("commands"),
      stopSource: Type.String({ minLength: 1, maxLength: 4096 }),
      startSource: Type.Optional(Type.String({ minLength: 1, maxLength: 4096, description: "restart on cancel" })),
      startTarget: Type.String({
        minLength: 1,
        maxLength: 4096,
        description: "{device} is replaced by disk 0's target path, {devices} by every disk's (in order), each quoted",
      }),
      status: Type.Optional(
        Type.String({
          minLength: 1,
          maxLength: 4096,
          description:
            "run on either host before any start: exit 0 when the VM runs there, 3 when not (fencing after a crash)",
        }),
      ),
      timeoutSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 3600, description: "default 120" })),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      controller: Type.Literal("libvirt"),
      domain: Type.String({ minLength: 1, maxLength: 200, pattern: "^[A-Za-z0-9_.+-]+$" }),
      shutdownTimeoutSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 3600, description: "default 120" })),
      undefineSource: Type.Optional(Type.Boolean({ description: "default false" })),
      startTarget: Type.Optional(
        Type.Boolean({
          description: "default true; false: the domain is defined on the target and left shut off (maintenance moves)",
        }),
      ),
      networkMap: Type.Optional(
        Type.Record(NetworkName, NetworkName, {
          maxProperties: 64,
          additionalProperties: false,
          description:
            "source network or bridge name -> the one to use on the target (interfaces whose network is missing there are refused otherwise)",
        }),
      ),
    },
    { additionalProperties: false },
  ),
]);
export type VmControl = Static<typeof VmControl>;

/** Bytes per second; 128 GiB/s is past any link a disk copy crosses. */
export const BandwidthLimit = Type.Integer({ minimum: 1, maximum: 2 ** 37 });

/**
 * How the bytes travel. "direct": source host to target host over the source's own SSH connection to the target's
 * migration address, with a per-migration key (the server only compares hashes); "relay": through the server;
 * "auto" (the default): direct when its prechecks pass (the source reaches the target's migration address and sees
 * its pinned host key there), else the relay, with the reason in the job log; a link lost mid copy that does not
 * re-open sends the rest over the relay too.
 */
export const DataPath = Type.Union([Type.Literal("auto"), Type.Literal("direct"), Type.Literal("relay")], {
  default: "auto",
  description: "direct: host to host; relay: through the server; auto (default): direct when its prechecks pass",
});
export type DataPath = Static<typeof DataPath>;

/** The data path asked for and the one that ran: per pass, and the last pass's (null before any copy). */
export const DataPathView = Type.Object({
  requested: DataPath,
  ran: Type.Union([Type.Literal("direct"), Type.Literal("relay"), Type.Null()]),
  reason: Type.Union([Type.String(), Type.Null()], { description: "why the last pass took the relay under auto" }),
  passes: Type.Array(PassDataPath),
});
export type DataPathView = Static<typeof DataPathView>;

export const MigrationOptions = Type.Object(
  {
    snapshotSizeBytes: Type.Optional(Type.Integer({ minimum: 4 * 1024 * 1024, maximum: 2 ** 50 })),
    snapshotChunkKiB: Type.Optional(
      Type.Union(
        [
          Type.Literal(4),
          Type.Literal(8),
          Type.Literal(16),
          Type.Literal(32),
          Type.Literal(64),
          Type.Literal(128),
          Type.Literal(256),
          Type.Literal(512),
        ],
        { description: "classic snapshot chunk size; default 64" },
      ),
    ),
    catchUpPasses: Type.Optional(Type.Integer({ minimum: 0, maximum: 10, default: 0 })),
    bandwidthLimitBytesPerSecond: Type.Optional(BandwidthLimit),
    compress: Type.Optional(
      Type.Boolean({
        default: false,
        description: "gzip -1 on the source host: pays off on a source link slower than ~50 MB/s",
      }),
    ),
    dataPath: Type.Optional(DataPath),
    reuseTarget: Type.Optional(
      Type.Boolean({ default: false, description: "write into an existing LV of the same size" }),
    ),
    removeTargetOnCancel: Type.Optional(Type.Boolean({ default: true })),
    rollbackAfterSeconds: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 3600,
        default: 120,
        description:
          "during the outage, when the target fails or stops answering: the VM runs again on the source within this",
      }),
    ),
    verifyFull: Type.Optional(
      Type.Boolean({
        default: false,
        description: "hash both whole devices during the outage (longer outage); otherwise re-hash the final delta",
      }),
    ),
  },
  { additionalProperties: false },
);
export type MigrationOptions = Static<typeof MigrationOptions>;

/** Most disks one migration moves: a VM's disks move together, and 16 covers what a VM is given in practice. */
export const MAX_MIGRATION_DISKS = 16;

const HostId = Type.Integer({ minimum: 1, maximum: MAX_ID });
// The policy without its $id: both create forms carry it, and a schema may define one $id only once.
const { $id: _policyId, ...policyFields } = CutoverPolicy as typeof CutoverPolicy & { $id?: string };
const CutoverField = Type.Optional(
  Type.Union([Type.Literal("manual"), Type.Literal("auto"), Type.Unsafe<CutoverPolicy>(policyFields)], {
    default: "manual",
    description: '"manual" and "auto" are short for {mode: "manual"} and {mode: "auto"} (no budget, no window)',
  }),
);

/** One disk of a migration: the source LV, and where it goes (`lv` defaults to the source's name). */
export const MigrationDiskSpec = Type.Object(
  {
    source: Type.Object({ vg: LvmName, lv: LvmName }, { additionalProperties: false }),
    target: Type.Object(
      { vg: LvmName, lv: Type.Optional(LvmName), thinPool: Type.Optional(LvmName) },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
export type MigrationDiskSpec = Static<typeof MigrationDiskSpec>;

/** One VM with 1 to 16 disks, moved together: one stop, one start, after every disk is verified. */
export const CreateMigrationSet = Type.Object(
  {
    sourceHostId: HostId,
    targetHostId: HostId,
    disks: Type.Array(MigrationDiskSpec, { minItems: 1, maxItems: MAX_MIGRATION_DISKS }),
    vm: VmControl,
    cutover: CutoverField,
    options: Type.Optional(MigrationOptions),
  },
  { additionalProperties: false },
);
export type CreateMigrationSet = Static<typeof CreateMigrationSet>;

/** The one-disk form from before disk sets: the same as a set of that one disk. */
export const CreateSingleMigration = Type.Object(
  {
    source: Type.Object({ hostId: HostId, vg: LvmName, lv: LvmName }, { additionalProperties: false }),
    target: Type.Object(
      { hostId: HostId, vg: LvmName, lv: Type.Optional(LvmName), thinPool: Type.Optional(LvmName) },
      { additionalProperties: false },
    ),
    vm: VmControl,
    cutover: CutoverField,
    options: Type.Optional(MigrationOptions),
  },
  { additionalProperties: false },
);
export type CreateSingleMigration = Static<typeof CreateSingleMigration>;

/**
 * The create body: a disk set (sourceHostId, targetHostId, disks) or the one-disk form (source, target); the server
 * refuses a body that mixes the two or has neither. One object rather than a union, so the options' defaults apply.
 */
export const CreateMigration = Type.Object(
  {
    sourceHostId: Type.Optional(HostId),
    targetHostId: Type.Optional(HostId),
    disks: Type.Optional(CreateMigrationSet.properties.disks),
    source: Type.Optional(CreateSingleMigration.properties.source),
    target: Type.Optional(CreateSingleMigration.properties.target),
    vm: VmControl,
    cutover: CutoverField,
    options: Type.Optional(MigrationOptions),
  },
  { additionalProperties: false },
);
/** The body as the schema types it (a mix of both forms passes the schema; the server then refuses it). */
export type CreateMigrationBody = Static<typeof CreateMigration>;
/** What a client sends: either form. */
export type CreateMigration = CreateMigrationSet | CreateSingleMigration;

/**
 * Where the VM is while our cutover has it stopped, and what each action would do to it; null when the job has not
 * stopped it (or it has been started since). Derived from the job's stored state by the server's own rules.
 * - "down": stopped on `stoppedOn` since `since`, running nowhere;
 * - "starting": down, and a start on `startingOn` was decided (it may be running there already);
 * - "back_on_source": a rollback started it again on the source (`since`), after being down `outageMs`.
 */
export const VmOutage = Type.Object(
  {
    state: Type.Union([Type.Literal("down"), Type.Literal("starting"), Type.Literal("back_on_source")]),
    since: Type.String({ format: "date-time" }),
    stoppedOn: Type.Integer({ description: "host id" }),
    startingOn: Type.Union([Type.Integer(), Type.Null()], { description: "host id of a decided start" }),
    outageMs: Type.Union([Type.Number(), Type.Null()], { description: "for back_on_source: how long it was down" }),
    retry: Type.Union(
      [
        Type.Literal("resume_then_start_on_target"),
        Type.Literal("start_on_target"),
        Type.Literal("cut_over_again"),
        Type.Literal("start_on_source"),
        Type.Null(),
      ],
      {
        description:
          "what POST /retry would do to the VM: resume the cutover from the failed phase and start it on the " +
          "target; repeat the start decided on the target; copy what it wrote since and cut over again; finish a " +
          "rollback to the source; null: no retry",
      },
    ),
    cancel: Type.Union(
      [
        Type.Literal("start_on_source"),
        Type.Literal("stays_stopped"),
        Type.Literal("keeps_running_on_source"),
        Type.Literal("refused"),
        Type.Null(),
      ],
      {
        description:
          "what POST /cancel would do to the VM: start it again on the source; nothing (no start command for the " +
          "source), so it stays stopped; nothing, it runs on the source; refused (it may run on the target); null: " +
          "the job is being cancelled already",
      },
    ),
  },
  { additionalProperties: false },
);
export type VmOutage = Static<typeof VmOutage>;

/** Where one disk of a migration stands, derived from its stored progress and the job's phase. */
export const DiskState = Type.Union([
  Type.Literal("pending"),
  Type.Literal("copying"),
  Type.Literal("in_sync"),
  Type.Literal("final_copied"),
  Type.Literal("verified"),
]);
export type DiskState = Static<typeof DiskState>;

export const MigrationDisk = Type.Object({
  index: Type.Integer({ minimum: 0 }),
  source: Type.Object({ vg: Type.String(), lv: Type.String() }),
  target: Type.Object({ vg: Type.String(), lv: Type.String(), thinPool: Type.Union([Type.String(), Type.Null()]) }),
  sizeBytes: Type.Union([Type.Number(), Type.Null()], { description: "null until the job has measured it" }),
  kind: Type.Union([Type.Literal("classic"), Type.Literal("thin"), Type.Null()], {
    description: "the source LV's kind; null until its snapshot was taken",
  }),
  state: DiskState,
  bytesTotal: Type.Number({ description: "bytes of this disk's current or last copy pass" }),
  bytesDone: Type.Number(),
  rangesTotal: Type.Number(),
  rangesDone: Type.Number(),
  sourceRemovedAt: Type.Union([Type.String(), Type.Null()], {
    description: "when this disk's kept source LV was removed (POST /decommission); null while it is kept",
  }),
  sourceRemovedBy: Type.Union([Type.String(), Type.Null()], { description: "who removed it" }),
});
export type MigrationDisk = Static<typeof MigrationDisk>;

export const Migration = Type.Object(
  {
    id: Type.Integer(),
    state: JobState,
    phase: PhaseSchema,
    source: Type.Object(
      { hostId: Type.Integer(), vg: Type.String(), lv: Type.String() },
      { description: "the host, and disk 0's LV" },
    ),
    target: Type.Object(
      {
        hostId: Type.Integer(),
        vg: Type.String(),
        lv: Type.String(),
        thinPool: Type.Union([Type.String(), Type.Null()]),
      },
      { description: "the host, and disk 0's LV" },
    ),
    disks: Type.Array(MigrationDisk, { description: "the VM's disks, disk 0 first" }),
    vm: VmControl,
    cutover: Type.Union([Type.Literal("manual"), Type.Literal("auto")], { description: "the policy's mode" }),
    cutoverPolicy: CutoverPolicy,
    cutoverWait: Type.Union([CutoverWait, Type.Null()]),
    prediction: Type.Union([OutagePrediction, Type.Null()], {
      description: "the outage a cutover now would cause; kept after the cutover as the last one taken before it",
    }),
    predictedOutageSeconds: Type.Union([Type.Number(), Type.Null()], {
      description: "the prediction taken right before the VM was stopped (compare outageMs)",
    }),
    options: MigrationOptions,
    attempt: Type.Integer(),
    sizeBytes: Type.Union([Type.Number(), Type.Null()], {
      description: "size of the volumes (all disks); null until the job has measured them",
    }),
    bytesTotal: Type.Number({
      description: "bytes of the current or last copy pass, summed over the disks (bytesDone counts them)",
    }),
    bytesDone: Type.Number(),
    rangesTotal: Type.Number(),
    rangesDone: Type.Number(),
    outageMs: Type.Union([Type.Number(), Type.Null()]),
    vmOutage: Type.Union([VmOutage, Type.Null()]),
    cancellable: Type.Boolean({
      description:
        "whether POST /cancel would be accepted now: false once cancelling or finished, from start_vm on, and for a " +
        "failed job after the VM was started from the target",
    }),
    error: Type.Union([JobError, Type.Null()]),
    createdBy: Type.Union([Type.String(), Type.Null()], {
      description: "who started it (user, or user and token); null for migrations from before accounts",
    }),
    createdAt: Type.String(),
    updatedAt: Type.String(),
    startedAt: Type.Union([Type.String(), Type.Null()]),
    finishedAt: Type.Union([Type.String(), Type.Null()]),
    sourceDecommissionedAt: Type.Union([Type.String(), Type.Null()], {
      description:
        "when the last of the kept source LVs was removed (POST /decommission); null while any is kept " +
        "(each disk's own: disks[].sourceRemovedAt)",
    }),
    sourceDecommissionedBy: Type.Union([Type.String(), Type.Null()], { description: "who removed the last one" }),
    dataPath: DataPathView,
  },
  { $id: "Migration" },
);
export type Migration = Static<typeof Migration>;

/**
 * What an operator types to remove a migration's kept source LVs: every disk's source `vg/lv`, disk 0 first, joined
 * by commas (no spaces, so a shell needs no quotes). One disk: its `vg/lv`, as before disk sets.
 */
export const decommissionConfirmText = (sources: ReadonlyArray<{ vg: string; lv: string }>): string =>
  sources.map((s) => `${s.vg}/${s.lv}`).join(",");

/** The operator's typed confirmation: decommissionConfirmText of the migration's disks, exactly. */
export const DecommissionSource = Type.Object(
  {
    confirm: Type.String({
      minLength: 1,
      // 16 disks of a 127-character VG and LV name each, and their commas.
      maxLength: MAX_MIGRATION_DISKS * 256,
      description: "every disk's source LV as vg/lv, disk 0 first, joined by commas (one disk: its vg/lv)",
    }),
  },
  { additionalProperties: false },
);
export type DecommissionSource = Static<typeof DecommissionSource>;

export const MigrationListQuery = Type.Object({
  state: Type.Optional(JobState),
  hostId: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_ID })),
  q: Type.Optional(Type.String({ maxLength: 200, description: "search in VG/LV names" })),
  since: Type.Optional(Type.String({ format: "date-time" })),
  overBudget: Type.Optional(
    Type.Boolean({ description: "only migrations whose measured outage exceeded their policy's maxOutageSeconds" }),
  ),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
});
export type MigrationListQuery = Static<typeof MigrationListQuery>;

export const MigrationList = Type.Object({ migrations: Type.Array(Migration) });
export type MigrationList = Static<typeof MigrationList>;

/**
 * A network or bridge the VM's interfaces attach to on the source that the target lacks (after `vm.networkMap`):
 * what a client offers to map, without reading the check's message. One per source name.
 */
export const MissingNetwork = Type.Object({
  source: Type.String({ description: "the name on the source: the key to give vm.networkMap" }),
  kind: Type.Union([Type.Literal("network"), Type.Literal("bridge"), Type.Literal("host interface")]),
  wanted: Type.String({ description: "the name looked for on the target: source, or vm.networkMap's value for it" }),
  offered: Type.Array(Type.String(), { description: "the target's names of that kind, sorted: what it can map to" }),
});
export type MissingNetwork = Static<typeof MissingNetwork>;

export const PrecheckResult = Type.Object({
  ok: Type.Boolean(),
  checks: Type.Array(
    Type.Object({
      name: Type.String(),
      ok: Type.Boolean(),
      message: Type.String({ description: "what is wrong and what the operator can do about it" }),
      warning: Type.Optional(
        Type.Boolean({ description: "passes, but the migration will not run as asked (auto takes the relay)" }),
      ),
      missingNetworks: Type.Optional(Type.Array(MissingNetwork, { description: "VM networks only, when it failed" })),
    }),
  ),
  estimate: Type.Optional(
    Type.Object({
      bytes: Type.Number(),
      fullCopySeconds: Type.Union([Type.Number(), Type.Null()]),
      expectedOutageSeconds: Type.Union([Type.Number(), Type.Null()]),
    }),
  ),
});
export type PrecheckResult = Static<typeof PrecheckResult>;

const Runs = Type.Array(Type.Tuple([Type.Number(), Type.Number()]), { description: "[firstCell, cellCount] runs" });

export const ChunkMapQuery = Type.Object({
  disk: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_MIGRATION_DISKS - 1, default: 0 })),
});
export type ChunkMapQuery = Static<typeof ChunkMapQuery>;

/** The job's volume as cells of `chunkBytes`: what was copied, what changed since, what is verified. */
export const ChunkMap = Type.Object(
  {
    chunkBytes: Type.Number(),
    totalChunks: Type.Number(),
    copied: Runs,
    changed: Runs,
    verified: Runs,
  },
  { $id: "ChunkMap" },
);
export type ChunkMap = Static<typeof ChunkMap>;
