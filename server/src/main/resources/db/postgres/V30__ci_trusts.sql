-- Keyless CI (docs/ci.md): a project trusts the workflow identity of one GitHub repository, on one
-- ref, optionally in one deployment environment. A GitHub Actions OIDC token whose repository, ref
-- and environment claims match a trust of the project it names is exchanged for a short-lived key
-- restricted to that project. environment is '' for "any environment or none", so that the unique
-- index treats it as a value (NULLs are never equal in a unique index). Gone with the project.
CREATE TABLE ci_trusts (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    project_id  TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    provider    TEXT NOT NULL CHECK (provider IN ('github')),
    repository  TEXT NOT NULL,
    ref         TEXT NOT NULL,
    environment TEXT NOT NULL,
    created_by  TEXT,
    created_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX ci_trusts_identity ON ci_trusts (project_id, provider, repository, ref, environment);
