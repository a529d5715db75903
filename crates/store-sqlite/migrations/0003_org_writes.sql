-- Declared custom properties of each org (JSON array of declarations).
ALTER TABLE orgs ADD COLUMN custom_props TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(custom_props));

-- The org's feed of member posts.
CREATE TABLE posts (
    id       TEXT PRIMARY KEY NOT NULL,
    org_id   TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    creator  TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    body     TEXT NOT NULL,
    created  INTEGER NOT NULL
) STRICT;
CREATE INDEX posts_org ON posts (org_id, id);
