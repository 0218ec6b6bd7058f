ALTER TABLE `job_disks` ADD `source_removal_started_at` text;--> statement-breakpoint
ALTER TABLE `job_disks` ADD `source_removal_started_by` text;