-- Invitations ("connections" on the seed platform). state: 0 pending, 1 accepted,
-- 2 declined, 3 revoked. Only the SHA-256 of the token is kept.
CREATE TABLE connections (
    id          TEXT COLLATE "C" PRIMARY KEY,
    org_id      TEXT COLLATE "C" NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    email       TEXT COLLATE "C" NOT NULL,
    name        TEXT,
    roles       JSONB NOT NULL,
    state       SMALLINT NOT NULL CHECK (state IN (0, 1, 2, 3)),
    token_hash  TEXT COLLATE "C" UNIQUE,
    expires     TIMESTAMPTZ NOT NULL,
    creator     TEXT COLLATE "C",
    account_id  TEXT COLLATE "C",
    created     TIMESTAMPTZ NOT NULL,
    updated     TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX connections_one_pending ON connections (org_id, email) WHERE state = 0;
CREATE INDEX connections_org ON connections (org_id, id);
CREATE INDEX accounts_name ON accounts (name_first, name_last);
