-- Jobs that already share a volume with an older unfinished job (possible before this migration) are set to failed,
-- so the unique indexes below can be built; the operator sees why, and may retry one once the other is finished.
UPDATE `jobs` SET `state` = 'failed', `lease_owner` = NULL, `lease_expires_at` = NULL,
  `error` = json_object('code', 'DUPLICATE_MIGRATION', 'phase', `phase`, 'message',
    'stopped on upgrade: an older unfinished migration uses the same source or target LV')
WHERE `state` IN ('queued', 'running', 'waiting_cutover', 'cancelling') AND EXISTS (
  SELECT 1 FROM `jobs` AS `o` WHERE `o`.`id` < `jobs`.`id`
    AND `o`.`state` IN ('queued', 'running', 'waiting_cutover', 'cancelling')
    AND ((`o`.`source_host_id` = `jobs`.`source_host_id` AND `o`.`source_vg` = `jobs`.`source_vg`
          AND `o`.`source_lv` = `jobs`.`source_lv`)
      OR (`o`.`target_host_id` = `jobs`.`target_host_id` AND `o`.`target_vg` = `jobs`.`target_vg`
          AND `o`.`target_lv` = `jobs`.`target_lv`)));--> statement-breakpoint
CREATE UNIQUE INDEX `jobs_active_source_idx` ON `jobs` (`source_host_id`,`source_vg`,`source_lv`) WHERE state in ('queued', 'running', 'waiting_cutover', 'cancelling');--> statement-breakpoint
CREATE UNIQUE INDEX `jobs_active_target_idx` ON `jobs` (`target_host_id`,`target_vg`,`target_lv`) WHERE state in ('queued', 'running', 'waiting_cutover', 'cancelling');