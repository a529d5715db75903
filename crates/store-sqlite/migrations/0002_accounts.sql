-- Accounts are platform-wide; email is stored normalised (trimmed, lowercase).
CREATE TABLE accounts (
    id                 TEXT PRIMARY KEY NOT NULL,
    email              TEXT NOT NULL UNIQUE,
    name_first         TEXT NOT NULL,
    name_last          TEXT NOT NULL,
    password_hash      TEXT,
    reset_token_hash   TEXT UNIQUE,
    reset_expires      INTEGER,
    created            INTEGER NOT NULL,
    updated            INTEGER NOT NULL
) STRICT;

-- A member is an account's membership in one org, with its own roles and state.
CREATE TABLE members (
    id          TEXT PRIMARY KEY NOT NULL,
    org_id      TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    account_id  TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    roles       TEXT NOT NULL CHECK (json_valid(roles)),
    state       TEXT NOT NULL CHECK (state IN ('active', 'suspended')),
    created     INTEGER NOT NULL,
    updated     INTEGER NOT NULL,
    UNIQUE (org_id, account_id)
) STRICT;
CREATE INDEX members_account ON members (account_id);
CREATE INDEX members_org ON members (org_id, id);

-- Login sessions: only the SHA-256 of the token is kept. Expiry slides.
CREATE TABLE sessions (
    id          TEXT PRIMARY KEY NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE,
    account_id  TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    org_id      TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    created     INTEGER NOT NULL,
    last_seen   INTEGER NOT NULL,
    expires     INTEGER NOT NULL
) STRICT;
CREATE INDEX sessions_account ON sessions (account_id);

-- Nonces of signed requests, kept for the replay window.
CREATE TABLE request_nonces (
    app_id  TEXT NOT NULL,
    nonce   TEXT NOT NULL,
    seen    INTEGER NOT NULL,
    PRIMARY KEY (app_id, nonce)
) STRICT;
CREATE INDEX request_nonces_seen ON request_nonces (seen);
