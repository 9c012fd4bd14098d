-- A release whose tree retention deleted (or is deleting) keeps its row, marked with the time:
-- such a release can no longer be activated. The mark is set in the same transaction, under the
-- project's row lock, in which retention decides what to delete, so a rollback either commits
-- before that decision (and retention keeps its release) or sees the mark (and is refused).
ALTER TABLE releases ADD COLUMN pruned_at BIGINT;
