-- An email is verified only by proof of control: a mailed link was used (a
-- verification, invitation or reset token). Unverified accounts are never linked
-- to an org by email. Accounts made before this migration count as verified when
-- nobody could have chosen their password (made by an operator, without one) or
-- when they accepted an invitation, which was mailed to them.
ALTER TABLE accounts ADD COLUMN verified INTEGER NOT NULL DEFAULT 0 CHECK (verified IN (0, 1));
ALTER TABLE accounts ADD COLUMN verify_token_hash TEXT;
ALTER TABLE accounts ADD COLUMN verify_expires INTEGER;
CREATE UNIQUE INDEX accounts_verify_token ON accounts (verify_token_hash) WHERE verify_token_hash IS NOT NULL;
UPDATE accounts SET verified = 1
WHERE password_hash IS NULL OR id IN (SELECT account_id FROM connections WHERE state = 1 AND account_id IS NOT NULL);
