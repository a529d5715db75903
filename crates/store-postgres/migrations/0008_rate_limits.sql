-- Rate limits shared by every node: one GCRA "theoretical arrival time" per key
-- (milliseconds since the epoch), moved by one upsert per check. A row whose tat
-- has passed limits nothing and is purged.
CREATE TABLE rate_limits (
    key  TEXT COLLATE "C" PRIMARY KEY,
    tat  BIGINT NOT NULL
);
CREATE INDEX rate_limits_tat ON rate_limits (tat);

-- The purge of expired login sessions deletes by expiry.
CREATE INDEX sessions_expires ON sessions (expires);
