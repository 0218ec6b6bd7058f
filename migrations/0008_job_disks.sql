CREATE TABLE `job_disks` (
	`job_id` integer NOT NULL,
	`idx` integer NOT NULL,
	`source_host_id` integer NOT NULL,
	`source_vg` text NOT NULL,
	`source_lv` text NOT NULL,
	`target_host_id` integer NOT NULL,
	`target_vg` text NOT NULL,
	`target_lv` text NOT NULL,
	`target_thin_pool` text,
	`phase_state` text DEFAULT '{}' NOT NULL,
	`bytes_total` integer DEFAULT 0 NOT NULL,
	`bytes_done` integer DEFAULT 0 NOT NULL,
	`ranges_total` integer DEFAULT 0 NOT NULL,
	`ranges_done` integer DEFAULT 0 NOT NULL,
	`active` integer DEFAULT true NOT NULL,
	PRIMARY KEY(`job_id`, `idx`),
	FOREIGN KEY (`job_id`) REFERENCES `jobs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
-- Every job before this migration moved one disk: it becomes disk 0 of its set.
INSERT INTO `job_disks` (`job_id`, `idx`, `source_host_id`, `source_vg`, `source_lv`, `target_host_id`, `target_vg`,
  `target_lv`, `target_thin_pool`, `active`)
SELECT `id`, 0, `source_host_id`, `source_vg`, `source_lv`, `target_host_id`, `target_vg`, `target_lv`,
  `target_thin_pool`, `state` IN ('queued', 'running', 'waiting_cutover', 'cancelling') FROM `jobs`;--> statement-breakpoint
-- A disk holds its LVs while its job is unfinished: the partial unique indexes below read this flag.
CREATE TRIGGER `job_disks_follow_job_state` AFTER UPDATE OF `state` ON `jobs` BEGIN
  UPDATE `job_disks` SET `active` = NEW.`state` IN ('queued', 'running', 'waiting_cutover', 'cancelling') WHERE `job_id` = NEW.`id`;
END;--> statement-breakpoint
CREATE UNIQUE INDEX `job_disks_active_source_idx` ON `job_disks` (`source_host_id`,`source_vg`,`source_lv`) WHERE active = 1;--> statement-breakpoint
CREATE UNIQUE INDEX `job_disks_active_target_idx` ON `job_disks` (`target_host_id`,`target_vg`,`target_lv`) WHERE active = 1;--> statement-breakpoint
PRAGMA foreign_keys=OFF;--> statement-breakpoint
CREATE TABLE `__new_transfer_ranges` (
	`job_id` integer NOT NULL,
	`disk` integer DEFAULT 0 NOT NULL,
	`pass` text NOT NULL,
	`offset` integer NOT NULL,
	`length` integer NOT NULL,
	`sha256` text,
	`confirmed_at` text,
	PRIMARY KEY(`job_id`, `disk`, `pass`, `offset`),
	FOREIGN KEY (`job_id`) REFERENCES `jobs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
INSERT INTO `__new_transfer_ranges`("job_id", "disk", "pass", "offset", "length", "sha256", "confirmed_at") SELECT "job_id", 0, "pass", "offset", "length", "sha256", "confirmed_at" FROM `transfer_ranges`;--> statement-breakpoint
DROP TABLE `transfer_ranges`;--> statement-breakpoint
ALTER TABLE `__new_transfer_ranges` RENAME TO `transfer_ranges`;--> statement-breakpoint
PRAGMA foreign_keys=ON;