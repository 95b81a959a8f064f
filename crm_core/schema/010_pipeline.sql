-- Pipeline entry and the public pool.
--
-- pool_events is the pool's own ledger: every claim, release, automatic
-- return, rule assignment and handover of an account, with who and when. The
-- daily claim limit counts today's claims of a rep here, and the re-claim
-- cool-down looks up when this rep last lost the account (release or return).
CREATE SEQUENCE seq_pool_events START 1;
CREATE TABLE pool_events (
    id          BIGINT PRIMARY KEY DEFAULT nextval('seq_pool_events'),
    account_id  BIGINT NOT NULL,
    user_id     BIGINT,            -- the rep who gained (claim, assign, handover) or lost (release, return) it
    kind        VARCHAR NOT NULL CHECK (kind IN ('claim', 'release', 'return', 'assign', 'handover')),
    happened_at TIMESTAMP NOT NULL,
    reason      VARCHAR,
    by_user     BIGINT             -- who did it (NULL = the system)
);

-- Comparison keys of tax id and phone for first-in ownership, filled by
-- crm_core.accounts on every write (rows written elsewhere fall back to the
-- same normalisation in SQL).
ALTER TABLE accounts ADD COLUMN tax_key VARCHAR;
ALTER TABLE accounts ADD COLUMN phone_key VARCHAR;
