-- A webhook body is processed once per project, whatever its X-GitHub-Delivery says: a captured,
-- validly signed push replayed under a new delivery id would otherwise redeploy an old commit.
-- Rows are kept as long as delivery ids are (for the project's life), so the window is the same.
ALTER TABLE webhook_deliveries ADD COLUMN body_digest TEXT;
CREATE UNIQUE INDEX webhook_deliveries_body ON webhook_deliveries (project_id, body_digest);
