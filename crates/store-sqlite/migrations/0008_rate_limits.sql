-- Rate limits: a single SQLite node keeps their state in memory (the store's
-- `RateLimitStore`), so there is no table here; the file keeps the migration
-- names of both stores alike (PostgreSQL's 0008 makes the shared table).

-- The purge of expired login sessions deletes by expiry.
CREATE INDEX sessions_expires ON sessions (expires);
