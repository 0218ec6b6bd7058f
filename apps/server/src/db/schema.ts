import type {
  CutoverPolicy,
  EventData,
  EventType,
  JobError,
  MigrationOptions,
  PhaseState,
  Role,
  VmControl,
  WebhookEvent,
} from "@blockferry/contracts";
import { ACTIVE_JOB_STATES, JOB_STATES, type Phase } from "@blockferry/contracts/vocabulary";
import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

const now = sql`(strftime('%Y-%m-%dT%H:%M:%fZ','now'))`;
const createdAt = () => text("created_at").notNull().default(now);
const updatedAt = () => text("updated_at").notNull().default(now);

/** Hypervisors we hold SSH access to. A host is usable only once its key fingerprint is pinned (trusted). */
export const hosts = sqliteTable("hosts", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  name: text("name").notNull().unique(),
  address: text("address").notNull(),
  port: integer("port").notNull().default(22),
  username: text("username").notNull().default("root"),
  /** Pasted private key (PEM/OpenSSH). Never returned by the API, never logged. */
  privateKey: text("private_key"),
  /** Or a path to a key file readable by the server. */
  privateKeyPath: text("private_key_path"),
  /** Fingerprint the operator confirmed (`SHA256:...`); null until trusted. */
  pinnedFingerprint: text("pinned_fingerprint"),
  /** Fingerprint the host presented on the last contact. */
  seenFingerprint: text("seen_fingerprint"),
  status: text("status", { enum: ["untrusted", "trusted", "key_changed"] })
    .notNull()
    .default("untrusted"),
  maxConcurrency: integer("max_concurrency").notNull().default(8),
  /** `host[:port]` where other hypervisors reach this one (a migration network); null: the address above. */
  migrationAddress: text("migration_address"),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
});

/**
 * A migration job. State changes are conditional updates guarded by the lease token. The JSON columns are typed
 * by contracts' schemas, and the jobs repository checks them (and the enums) whenever it loads a row.
 */
export const jobs = sqliteTable(
  "jobs",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    state: text("state", { enum: JOB_STATES }).notNull().default("queued"),
    phase: text("phase").$type<Phase>().notNull().default("prechecks"),
    sourceHostId: integer("source_host_id")
      .notNull()
      .references(() => hosts.id),
    sourceVg: text("source_vg").notNull(),
    sourceLv: text("source_lv").notNull(),
    targetHostId: integer("target_host_id")
      .notNull()
      .references(() => hosts.id),
    targetVg: text("target_vg").notNull(),
    targetLv: text("target_lv").notNull(),
    targetThinPool: text("target_thin_pool"),
    /** VM controller settings: {controller:"none"|"commands"|"libvirt", ...}. */
    vm: text("vm", { mode: "json" }).$type<VmControl>().notNull(),
    cutover: text("cutover", { enum: ["manual", "auto"] })
      .notNull()
      .default("manual"),
    /** The cutover policy's budget and window (mode "auto"); null: the plain `cutover` mode. */
    cutoverPolicy: text("cutover_policy", { mode: "json" }).$type<CutoverPolicy>(),
    options: text("options", { mode: "json" }).$type<MigrationOptions>().notNull(),
    /** Per-phase durable progress (what a re-run of the phase needs to continue). */
    phaseState: text("phase_state", { mode: "json" }).$type<PhaseState>().notNull().default(sql`'{}'`),
    /** Lease: the runner that owns the job and until when; a stale runner cannot write. */
    leaseOwner: text("lease_owner"),
    leaseExpiresAt: integer("lease_expires_at"),
    attempt: integer("attempt").notNull().default(0),
    cancelRequested: integer("cancel_requested", { mode: "boolean" }).notNull().default(false),
    cutoverRequested: integer("cutover_requested", { mode: "boolean" }).notNull().default(false),
    error: text("error", { mode: "json" }).$type<JobError>(),
    bytesTotal: integer("bytes_total").notNull().default(0),
    bytesDone: integer("bytes_done").notNull().default(0),
    rangesTotal: integer("ranges_total").notNull().default(0),
    rangesDone: integer("ranges_done").notNull().default(0),
    outageMs: integer("outage_ms"),
    /** Who started it: the audit actor's name ("alice", "alice (token 3)"); null for jobs from before accounts. */
    createdBy: text("created_by"),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    startedAt: text("started_at"),
    finishedAt: text("finished_at"),
    /** When and by whom the kept source LV was removed after the job succeeded (decommission); null while kept. */
    sourceDecommissionedAt: text("source_decommissioned_at"),
    sourceDecommissionedBy: text("source_decommissioned_by"),
  },
  (t) => [
    index("jobs_state_idx").on(t.state),
    index("jobs_created_idx").on(t.createdAt),
    // At most one unfinished job per source LV and per target LV: two at once would snapshot, write and drop the
    // same volumes under each other. Enforced here so that parallel requests cannot both pass a check in code.
    uniqueIndex("jobs_active_source_idx")
      .on(t.sourceHostId, t.sourceVg, t.sourceLv)
      .where(sql.raw(`state in (${ACTIVE_JOB_STATES.map((s) => `'${s}'`).join(", ")})`)),
    uniqueIndex("jobs_active_target_idx")
      .on(t.targetHostId, t.targetVg, t.targetLv)
      .where(sql.raw(`state in (${ACTIVE_JOB_STATES.map((s) => `'${s}'`).join(", ")})`)),
  ],
);

/** Why a migration holds at most this many disks: the issue's bound, and what the API validates. */
export const MAX_DISKS = 16;

const activeWhere = sql.raw("active = 1");

/**
 * The disks of a migration (one VM's volumes), disk 0 first. The job row keeps disk 0's names in its own columns
 * (as before migrations had disks) and disk 0's phase state and copy counters; disks 1.. keep theirs here.
 * `active` follows the job's state (a trigger in migration 0008): the unique indexes below refuse a second unfinished
 * migration of any one LV, whichever disk of whichever job holds it.
 */
export const jobDisks = sqliteTable(
  "job_disks",
  {
    jobId: integer("job_id")
      .notNull()
      .references(() => jobs.id, { onDelete: "cascade" }),
    index: integer("idx").notNull(),
    sourceHostId: integer("source_host_id").notNull(),
    sourceVg: text("source_vg").notNull(),
    sourceLv: text("source_lv").notNull(),
    targetHostId: integer("target_host_id").notNull(),
    targetVg: text("target_vg").notNull(),
    targetLv: text("target_lv").notNull(),
    targetThinPool: text("target_thin_pool"),
    /** Per-disk durable progress of disks 1..; disk 0's is the job's phase state. */
    phaseState: text("phase_state", { mode: "json" }).$type<PhaseState>().notNull().default(sql`'{}'`),
    bytesTotal: integer("bytes_total").notNull().default(0),
    bytesDone: integer("bytes_done").notNull().default(0),
    rangesTotal: integer("ranges_total").notNull().default(0),
    rangesDone: integer("ranges_done").notNull().default(0),
    active: integer("active", { mode: "boolean" }).notNull().default(true),
    /** When and by whom this disk's kept source LV was removed (decommission); null while it is kept. */
    sourceRemovedAt: text("source_removed_at"),
    sourceRemovedBy: text("source_removed_by"),
    /**
     * Written just before this disk's lvremove is sent: a request that finds the LV gone after a crash between
     * the lvremove and sourceRemovedAt then knows it was this removal, not something else.
     */
    sourceRemovalStartedAt: text("source_removal_started_at"),
    sourceRemovalStartedBy: text("source_removal_started_by"),
  },
  (t) => [
    primaryKey({ columns: [t.jobId, t.index] }),
    uniqueIndex("job_disks_active_source_idx").on(t.sourceHostId, t.sourceVg, t.sourceLv).where(activeWhere),
    uniqueIndex("job_disks_active_target_idx").on(t.targetHostId, t.targetVg, t.targetLv).where(activeWhere),
  ],
);

/** Append-only event log. `id` is the global cursor; `seq` counts per job. */
export const jobEvents = sqliteTable(
  "job_events",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    jobId: integer("job_id").references(() => jobs.id, { onDelete: "cascade" }),
    seq: integer("seq").notNull(),
    /** Checked together with `data` against contracts' ServerEvent union when the events repository loads a row. */
    type: text("type").$type<EventType>().notNull(),
    data: text("data", { mode: "json" }).$type<EventData<EventType>>().notNull(),
    at: text("at").notNull().default(now),
  },
  (t) => [uniqueIndex("job_events_job_seq_idx").on(t.jobId, t.seq)],
);

/** Transfer journal: one row per range; a range is confirmed only after the destination hash matched. */
export const transferRanges = sqliteTable(
  "transfer_ranges",
  {
    jobId: integer("job_id")
      .notNull()
      .references(() => jobs.id, { onDelete: "cascade" }),
    /** The job's disk the range belongs to (job_disks.idx). */
    disk: integer("disk").notNull().default(0),
    /** Which copy this range belongs to: "full", "catchup-1", "final", ... */
    pass: text("pass").notNull(),
    offset: integer("offset").notNull(),
    length: integer("length").notNull(),
    sha256: text("sha256"),
    confirmedAt: text("confirmed_at"),
  },
  (t) => [primaryKey({ columns: [t.jobId, t.disk, t.pass, t.offset] })],
);

/** Everything Blockferry created on a host, so cancel, cleanup and startup reconciliation miss nothing. */
export const jobObjects = sqliteTable("job_objects", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  jobId: integer("job_id")
    .notNull()
    .references(() => jobs.id, { onDelete: "cascade" }),
  hostId: integer("host_id")
    .notNull()
    .references(() => hosts.id),
  kind: text("kind", { enum: ["snapshot", "target_lv", "thin_metadata_snap"] }).notNull(),
  vg: text("vg").notNull(),
  lv: text("lv").notNull(),
  createdAt: createdAt(),
  removedAt: text("removed_at"),
});

/** Who did what: logins, user and token changes, host trust decisions, key changes, migration actions. */
export const auditLog = sqliteTable("audit_log", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  at: text("at").notNull().default(now),
  actor: text("actor").notNull(),
  /** The client's address for actions taken over HTTP; null for the server's own (reconciliation, CLI). */
  address: text("address"),
  action: text("action").notNull(),
  subject: text("subject").notNull(),
  details: text("details", { mode: "json" }),
});

/** Dashboard and API accounts. Passwords are argon2id hashes (PHC strings). */
export const users = sqliteTable("users", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  username: text("username").notNull().unique(),
  passwordHash: text("password_hash").notNull(),
  role: text("role").$type<Role>().notNull(),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
});

/**
 * Browser sessions, kept here so that logout, a password change or removing the user ends them at once.
 * The cookie holds a random token; only its SHA-256 is stored, so a copy of the database logs nobody in.
 */
export const sessions = sqliteTable(
  "sessions",
  {
    tokenHash: text("token_hash").primaryKey(),
    userId: integer("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    csrfToken: text("csrf_token").notNull(),
    /** Epoch ms: idle expiry counts from here; refreshed (coarsely) on use. */
    lastSeenAt: integer("last_seen_at").notNull(),
    /** Epoch ms: the absolute end, whatever the activity. */
    expiresAt: integer("expires_at").notNull(),
    address: text("address"),
    createdAt: createdAt(),
  },
  (t) => [index("sessions_user_idx").on(t.userId)],
);

/** Bearer tokens for the CLI and automation; stored hashed, shown once, owned by the user who made them. */
export const apiTokens = sqliteTable("api_tokens", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  name: text("name").notNull(),
  role: text("role").$type<Role>().notNull(),
  tokenHash: text("token_hash").notNull().unique(),
  userId: integer("user_id")
    .notNull()
    .references(() => users.id, { onDelete: "cascade" }),
  createdAt: createdAt(),
  lastUsedAt: text("last_used_at"),
});

/** Where job events are POSTed. The signing secret is sealed with the server's key (`bfenc:v1:`), never returned. */
export const webhooks = sqliteTable("webhooks", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  url: text("url").notNull(),
  /** Webhook event names (contracts' WEBHOOK_EVENTS) this receiver wants. */
  events: text("events", { mode: "json" }).$type<WebhookEvent[]>().notNull(),
  secret: text("secret").notNull(),
  createdBy: text("created_by").notNull(),
  createdAt: createdAt(),
});

/**
 * One event to one webhook: the body is fixed when the event happens, so every attempt sends the same bytes.
 * Pending rows with `next_attempt_at` are what a restarted server resumes.
 */
export const webhookDeliveries = sqliteTable(
  "webhook_deliveries",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    webhookId: integer("webhook_id")
      .notNull()
      .references(() => webhooks.id, { onDelete: "cascade" }),
    event: text("event").$type<WebhookEvent>().notNull(),
    jobId: integer("job_id"),
    body: text("body").notNull(),
    state: text("state", { enum: ["pending", "delivered", "failed"] })
      .notNull()
      .default("pending"),
    attempts: integer("attempts").notNull().default(0),
    lastStatus: integer("last_status"),
    lastError: text("last_error"),
    /** Epoch ms of the next try; null once delivered or given up. */
    nextAttemptAt: integer("next_attempt_at"),
    lastAttemptAt: text("last_attempt_at"),
    createdAt: createdAt(),
  },
  (t) => [
    index("webhook_deliveries_webhook_idx").on(t.webhookId, t.id),
    index("webhook_deliveries_due_idx").on(t.state, t.nextAttemptAt),
  ],
);
