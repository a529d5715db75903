-- Times are integer milliseconds since the epoch (UTC).
-- Organisations: server-kept columns beside one JSON document of writable properties.
CREATE TABLE orgs (
    id       TEXT PRIMARY KEY NOT NULL,
    code     TEXT NOT NULL UNIQUE,
    name     TEXT NOT NULL,
    state    TEXT NOT NULL CHECK (state IN ('enabled', 'disabled')),
    version  INTEGER NOT NULL,
    created  INTEGER NOT NULL,
    updated  INTEGER NOT NULL,
    updater  TEXT,
    props    TEXT NOT NULL CHECK (json_valid(props))
) STRICT;
CREATE INDEX orgs_name ON orgs (name, id);
CREATE INDEX orgs_created ON orgs (created, id);

-- Apps: API clients of an org. The key is public; the secret signs requests.
CREATE TABLE apps (
    id            TEXT PRIMARY KEY NOT NULL,
    org_id        TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    key           TEXT NOT NULL UNIQUE,
    secret        TEXT NOT NULL,
    enabled       INTEGER NOT NULL,
    cors_origins  TEXT NOT NULL CHECK (json_valid(cors_origins)),
    created       INTEGER NOT NULL
) STRICT;
CREATE INDEX apps_org ON apps (org_id, id);
