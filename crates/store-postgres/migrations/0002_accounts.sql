-- Accounts are platform-wide; email is stored normalised (trimmed, lowercase).
CREATE TABLE accounts (
    id                 TEXT COLLATE "C" PRIMARY KEY,
    email              TEXT COLLATE "C" NOT NULL UNIQUE,
    name_first         TEXT NOT NULL,
    name_last          TEXT NOT NULL,
    password_hash      TEXT,
    reset_token_hash   TEXT UNIQUE,
    reset_expires      TIMESTAMPTZ,
    created            TIMESTAMPTZ NOT NULL,
    updated            TIMESTAMPTZ NOT NULL
);

-- A member is an account's membership in one org, with its own roles and state.
CREATE TABLE members (
    id          TEXT COLLATE "C" PRIMARY KEY,
    org_id      TEXT COLLATE "C" NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    account_id  TEXT COLLATE "C" NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    roles       JSONB NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('active', 'suspended')),
    created     TIMESTAMPTZ NOT NULL,
    updated     TIMESTAMPTZ NOT NULL,
    UNIQUE (org_id, account_id)
);
CREATE INDEX members_account ON members (account_id);
CREATE INDEX members_org ON members (org_id, id);

-- Login sessions: only the SHA-256 of the token is kept. Expiry slides.
CREATE TABLE sessions (
    id          TEXT COLLATE "C" PRIMARY KEY,
    token_hash  TEXT COLLATE "C" NOT NULL UNIQUE,
    account_id  TEXT COLLATE "C" NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    org_id      TEXT COLLATE "C" NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    created     TIMESTAMPTZ NOT NULL,
    last_seen   TIMESTAMPTZ NOT NULL,
    expires     TIMESTAMPTZ NOT NULL
);
CREATE INDEX sessions_account ON sessions (account_id);

-- Nonces of signed requests, kept for the replay window.
CREATE TABLE request_nonces (
    app_id  TEXT COLLATE "C" NOT NULL,
    nonce   TEXT COLLATE "C" NOT NULL,
    seen    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (app_id, nonce)
);
CREATE INDEX request_nonces_seen ON request_nonces (seen);
