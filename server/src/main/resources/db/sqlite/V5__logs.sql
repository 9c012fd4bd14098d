-- Project logs (issue 6): time-window queries and pruning by age read a project's entries by time.
-- Ids already give the order: SQLite serializes writers and an AUTOINCREMENT id is never reused,
-- so a committed id is always above every id committed before it.
CREATE INDEX log_entries_project_time ON log_entries (project_id, time);
