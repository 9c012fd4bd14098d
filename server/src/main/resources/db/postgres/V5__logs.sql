-- Project logs (issue 6): time-window queries and pruning by age read a project's entries by time.
CREATE INDEX log_entries_project_time ON log_entries (project_id, time);

-- One row per project, locked (upserted) by every append before it takes its id from the
-- sequence. Sequence values are handed out at insert and may commit out of order; holding this
-- row lock until commit makes a project's appends commit one after another, so a follower that
-- has seen id N of a project will never later find a smaller committed id of that project.
CREATE TABLE log_heads (
    project_id TEXT PRIMARY KEY REFERENCES projects (id) ON DELETE CASCADE,
    appends    BIGINT NOT NULL
);
