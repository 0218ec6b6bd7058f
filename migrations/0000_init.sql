CREATE TABLE `audit_log` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')) NOT NULL,
	`actor` text NOT NULL,
	`action` text NOT NULL,
	`subject` text NOT NULL,
	`details` text
);
--> statement-breakpoint
CREATE TABLE `hosts` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`address` text NOT NULL,
	`port` integer DEFAULT 22 NOT NULL,
	`username` text DEFAULT 'root' NOT NULL,
	`private_key` text,
	`private_key_path` text,
	`pinned_fingerprint` text,
	`seen_fingerprint` text,
	`status` text DEFAULT 'untrusted' NOT NULL,
	`max_concurrency` integer DEFAULT 8 NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')) NOT NULL,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')) NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `hosts_name_unique` ON `hosts` (`name`);--> statement-breakpoint
CREATE TABLE `job_events` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`job_id` integer,
	`seq` integer NOT NULL,
	`type` text NOT NULL,
	`data` text NOT NULL,
	`at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')) NOT NULL,
	FOREIGN KEY (`job_id`) REFERENCES `jobs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `job_events_job_seq_idx` ON `job_events` (`job_id`,`seq`);--> statement-breakpoint
CREATE TABLE `job_objects` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`job_id` integer NOT NULL,
	`host_id` integer NOT NULL,
	`kind` text NOT NULL,
	`vg` text NOT NULL,
	`lv` text NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')) NOT NULL,
	`removed_at` text,
	FOREIGN KEY (`job_id`) REFERENCES `jobs`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`host_id`) REFERENCES `hosts`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `jobs` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`state` text DEFAULT 'queued' NOT NULL,
	`phase` text DEFAULT 'prechecks' NOT NULL,
	`source_host_id` integer NOT NULL,
	`source_vg` text NOT NULL,
	`source_lv` text NOT NULL,
	`target_host_id` integer NOT NULL,
	`target_vg` text NOT NULL,
	`target_lv` text NOT NULL,
	`target_thin_pool` text,
	`vm` text NOT NULL,
	`cutover` text DEFAULT 'manual' NOT NULL,
	`options` text NOT NULL,
	`phase_state` text DEFAULT '{}' NOT NULL,
	`lease_owner` text,
	`lease_expires_at` integer,
	`attempt` integer DEFAULT 0 NOT NULL,
	`cancel_requested` integer DEFAULT false NOT NULL,
	`cutover_requested` integer DEFAULT false NOT NULL,
	`error` text,
	`bytes_total` integer DEFAULT 0 NOT NULL,
	`bytes_done` integer DEFAULT 0 NOT NULL,
	`ranges_total` integer DEFAULT 0 NOT NULL,
	`ranges_done` integer DEFAULT 0 NOT NULL,
	`outage_ms` integer,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')) NOT NULL,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')) NOT NULL,
	`started_at` text,
	`finished_at` text,
	FOREIGN KEY (`source_host_id`) REFERENCES `hosts`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`target_host_id`) REFERENCES `hosts`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `jobs_state_idx` ON `jobs` (`state`);--> statement-breakpoint
CREATE INDEX `jobs_created_idx` ON `jobs` (`created_at`);--> statement-breakpoint
CREATE TABLE `transfer_ranges` (
	`job_id` integer NOT NULL,
	`pass` text NOT NULL,
	`offset` integer NOT NULL,
	`length` integer NOT NULL,
	`sha256` text,
	`confirmed_at` text,
	PRIMARY KEY(`job_id`, `pass`, `offset`),
	FOREIGN KEY (`job_id`) REFERENCES `jobs`(`id`) ON UPDATE no action ON DELETE cascade
);
