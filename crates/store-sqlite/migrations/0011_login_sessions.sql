-- Login sessions get a name that can't be taken for the live sessions of 0005:
-- the table `sessions` becomes `login_sessions`. SQLite can't rename an index, so
-- its indexes are made again under the new name.
ALTER TABLE sessions RENAME TO login_sessions;
DROP INDEX sessions_account;
CREATE INDEX login_sessions_account ON login_sessions (account_id);
DROP INDEX sessions_expires;
CREATE INDEX login_sessions_expires ON login_sessions (expires);
