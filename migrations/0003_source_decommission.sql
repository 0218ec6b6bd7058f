ALTER TABLE `jobs` ADD `source_decommissioned_at` text;--> statement-breakpoint
ALTER TABLE `jobs` ADD `source_decommissioned_by` text;