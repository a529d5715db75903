-- Live sessions (seed 000's video sessions), their participants, and the
-- facilities and rooms where they take place. Times are integer milliseconds.
-- (Login sessions are the `sessions` table of 0002.)
CREATE TABLE facilities (
    id            TEXT PRIMARY KEY NOT NULL,
    org_id        TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    is_removable  INTEGER NOT NULL,
    created       INTEGER NOT NULL,
    updated       INTEGER NOT NULL
) STRICT;
CREATE INDEX facilities_org ON facilities (org_id, id);
CREATE INDEX facilities_org_name ON facilities (org_id, name, id);

CREATE TABLE rooms (
    id            TEXT PRIMARY KEY NOT NULL,
    org_id        TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    facility_id   TEXT NOT NULL REFERENCES facilities (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    is_removable  INTEGER NOT NULL,
    created       INTEGER NOT NULL,
    updated       INTEGER NOT NULL
) STRICT;
CREATE INDEX rooms_facility ON rooms (facility_id, id);
CREATE INDEX rooms_facility_name ON rooms (facility_id, name, id);

-- A session belongs to the org it was created in. Deleting a facility or room
-- that only ended sessions used leaves them without one.
CREATE TABLE live_sessions (
    id                  TEXT PRIMARY KEY NOT NULL,
    org_id              TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    owner_id            TEXT NOT NULL REFERENCES accounts (id),
    name                TEXT NOT NULL,
    type                TEXT NOT NULL,
    speciality          TEXT,
    estimated_duration  TEXT,
    access              TEXT NOT NULL CHECK (access IN ('PRIVATE', 'ORGANISATION')),
    facility_id         TEXT REFERENCES facilities (id) ON DELETE SET NULL,
    room_id             TEXT REFERENCES rooms (id) ON DELETE SET NULL,
    scheduled_start     INTEGER NOT NULL,
    state               TEXT NOT NULL CHECK (state IN ('scheduled', 'live', 'ended')),
    started             INTEGER,
    ended               INTEGER,
    created             INTEGER NOT NULL,
    updated             INTEGER NOT NULL
) STRICT;
CREATE INDEX live_sessions_org ON live_sessions (org_id, id);
CREATE INDEX live_sessions_org_start ON live_sessions (org_id, scheduled_start, id);
CREATE INDEX live_sessions_owner ON live_sessions (owner_id, id);
CREATE INDEX live_sessions_facility ON live_sessions (facility_id) WHERE state <> 'ended';
CREATE INDEX live_sessions_room ON live_sessions (room_id) WHERE state <> 'ended';

-- permissions is a bit set: 1 canEditSession, 2 canInviteParticipants,
-- 4 canCloseVideoFeed, 8 canEndSession, 16 canClearAllDrawings, 32 canRecordSession.
-- home_org_id is the org through which the account takes part.
CREATE TABLE participants (
    id           TEXT PRIMARY KEY NOT NULL,
    session_id   TEXT NOT NULL REFERENCES live_sessions (id) ON DELETE CASCADE,
    account_id   TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    home_org_id  TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    permissions  INTEGER NOT NULL,
    created      INTEGER NOT NULL,
    updated      INTEGER NOT NULL,
    UNIQUE (session_id, account_id)
) STRICT;
CREATE INDEX participants_account ON participants (account_id, session_id);
