-- Invitations ("connections" on the seed platform). state: 0 pending, 1 accepted,
-- 2 declined, 3 revoked. Only the SHA-256 of the token is kept.
CREATE TABLE connections (
    id          TEXT PRIMARY KEY NOT NULL,
    org_id      TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    email       TEXT NOT NULL,
    name        TEXT,
    roles       TEXT NOT NULL CHECK (json_valid(roles)),
    state       INTEGER NOT NULL CHECK (state IN (0, 1, 2, 3)),
    token_hash  TEXT UNIQUE,
    expires     INTEGER NOT NULL,
    creator     TEXT,
    account_id  TEXT,
    created     INTEGER NOT NULL,
    updated     INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX connections_one_pending ON connections (org_id, email) WHERE state = 0;
CREATE INDEX connections_org ON connections (org_id, id);
CREATE INDEX accounts_name ON accounts (name_first, name_last);
