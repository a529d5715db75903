-- Declared custom properties of each org (JSON array of declarations).
ALTER TABLE orgs ADD COLUMN custom_props JSONB NOT NULL DEFAULT '[]';

-- The org's feed of member posts.
CREATE TABLE posts (
    id       TEXT COLLATE "C" PRIMARY KEY,
    org_id   TEXT COLLATE "C" NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    creator  TEXT COLLATE "C" NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    body     TEXT NOT NULL,
    created  TIMESTAMPTZ NOT NULL
);
CREATE INDEX posts_org ON posts (org_id, id);
