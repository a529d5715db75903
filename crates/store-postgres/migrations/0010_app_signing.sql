-- Per-app signing rules: whether signed requests must use signature version 2,
-- and which accounts the app may act as (Medable-Client-Account): NULL means any
-- active member (the seed's behaviour), otherwise a JSON array of account ids
-- (empty: none).
ALTER TABLE apps ADD COLUMN require_signature_v2 BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE apps ADD COLUMN act_as JSONB;
