-- Managed apps: the per-app CSRF setting (on by default: cookie writes echo
-- Medable-Csrf-Token), and the secret before the last rotation, accepted until
-- previous_secret_expires (milliseconds), both NULL when there is none.
ALTER TABLE apps ADD COLUMN csrf INTEGER NOT NULL DEFAULT 1;
ALTER TABLE apps ADD COLUMN previous_secret TEXT;
ALTER TABLE apps ADD COLUMN previous_secret_expires INTEGER;
