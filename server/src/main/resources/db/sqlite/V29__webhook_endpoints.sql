-- Event webhooks out (docs/webhooks.md). An org's endpoints, each with its signing secret sealed
-- with the secrets key; disabled_at is set by an admin (PATCH enabled=false) or by the delivery
-- worker when one delivery kept failing for the whole retry window (then disabled_reason says why).
-- events is the subscribed event types, space-separated, or '*'.
CREATE TABLE webhook_endpoints (
    id              TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    url             TEXT NOT NULL,
    description     TEXT NOT NULL,
    events          TEXT NOT NULL,
    secret          TEXT NOT NULL,
    disabled_at     BIGINT,
    disabled_reason TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX webhook_endpoints_org ON webhook_endpoints (org_id, created_at);

-- The outbox: one row per event, written in the transaction of the change it reports, holding the
-- exact JSON body that is signed and sent. Only written when an enabled endpoint subscribes.
CREATE TABLE webhook_events (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    project_id TEXT REFERENCES projects (id) ON DELETE CASCADE,
    type       TEXT NOT NULL,
    payload    TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX webhook_events_org ON webhook_events (org_id, created_at);

-- One delivery per event and endpoint. Deliveries of one endpoint and lane (the project id, or ''
-- for org events such as key.created) go out in id order: the worker only claims the oldest pending
-- delivery of a lane. lease_until is the claim of the server attempting it; due_since starts the
-- retry window (creation, or a manual retry).
CREATE TABLE webhook_event_deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    endpoint_id     TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id        TEXT NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
    lane            TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    due_since       BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    lease_until     BIGINT,
    last_status     INTEGER,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    finished_at     BIGINT
);
CREATE INDEX webhook_event_deliveries_due ON webhook_event_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_event_deliveries_lane ON webhook_event_deliveries (endpoint_id, lane, id) WHERE status = 'pending';
CREATE INDEX webhook_event_deliveries_endpoint ON webhook_event_deliveries (endpoint_id, id);
CREATE INDEX webhook_event_deliveries_event ON webhook_event_deliveries (event_id);

-- Every attempt of a delivery: the HTTP status (null when no answer came) or the error.
CREATE TABLE webhook_event_attempts (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id  BIGINT NOT NULL REFERENCES webhook_event_deliveries (id) ON DELETE CASCADE,
    attempted_at BIGINT NOT NULL,
    status_code  INTEGER,
    error        TEXT,
    duration_ms  BIGINT NOT NULL
);
CREATE INDEX webhook_event_attempts_delivery ON webhook_event_attempts (delivery_id, id);
