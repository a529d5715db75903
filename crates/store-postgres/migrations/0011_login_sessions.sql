-- Login sessions get a name that can't be taken for the live sessions of 0005:
-- the table `sessions` becomes `login_sessions`, with its indexes and its change
-- trigger (whose payload is the table's name: the listener matches
-- `login_sessions:<id>` from now on).
ALTER TABLE sessions RENAME TO login_sessions;
ALTER INDEX sessions_account RENAME TO login_sessions_account;
ALTER INDEX sessions_expires RENAME TO login_sessions_expires;
ALTER TRIGGER sessions_changed ON login_sessions RENAME TO login_sessions_changed;
