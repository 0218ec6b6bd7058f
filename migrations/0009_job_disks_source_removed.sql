ALTER TABLE `job_disks` ADD `source_removed_at` text;--> statement-breakpoint
ALTER TABLE `job_disks` ADD `source_removed_by` text;--> statement-breakpoint
-- A job decommissioned before this migration had one disk: its removal is disk 0's.
UPDATE `job_disks` SET `source_removed_at` = (SELECT `source_decommissioned_at` FROM `jobs` WHERE `jobs`.`id` = `job_disks`.`job_id`),
  `source_removed_by` = (SELECT `source_decommissioned_by` FROM `jobs` WHERE `jobs`.`id` = `job_disks`.`job_id`)
WHERE `idx` = 0;
