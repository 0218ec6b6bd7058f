-- Who started a migration (the audit actor's name). Null for jobs created before accounts recorded it.
-- Numbered 0004: 0003 is taken by a parallel change (decommission); the journal orders them.
ALTER TABLE `jobs` ADD `created_by` text;
