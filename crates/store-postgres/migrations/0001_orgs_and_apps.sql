-- Organisations: server-kept columns beside one JSON document of writable properties.
-- Ids and codes use the C collation so keyset order matches SQLite's byte order.
CREATE TABLE orgs (
    id       TEXT COLLATE "C" PRIMARY KEY,
    code     TEXT COLLATE "C" NOT NULL UNIQUE,
    name     TEXT COLLATE "C" NOT NULL,
    state    TEXT NOT NULL CHECK (state IN ('enabled', 'disabled')),
    version  BIGINT NOT NULL,
    created  TIMESTAMPTZ NOT NULL,
    updated  TIMESTAMPTZ NOT NULL,
    updater  TEXT COLLATE "C",
    props    JSONB NOT NULL
);
CREATE INDEX orgs_name ON orgs (name, id);
CREATE INDEX orgs_created ON orgs (created, id);

-- Apps: API clients of an org. The key is public; the secret signs requests.
CREATE TABLE apps (
    id            TEXT COLLATE "C" PRIMARY KEY,
    org_id        TEXT COLLATE "C" NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    key           TEXT COLLATE "C" NOT NULL UNIQUE,
    secret        TEXT NOT NULL,
    enabled       BOOLEAN NOT NULL,
    cors_origins  JSONB NOT NULL,
    created       TIMESTAMPTZ NOT NULL
);
CREATE INDEX apps_org ON apps (org_id, id);
