-- Sign-in sessions, the token-signing secret, and row versions where the core
-- schema had none.
--
-- auth_sessions: one row per signed-in browser session. The signed token in
-- the browser carries the session id; the server keeps only its SHA-256, so a
-- copy of the database does not hand out live sessions. Logging out sets
-- revoked_at, which ends the session even if the token is replayed.
CREATE TABLE auth_sessions (
    sid_hash    VARCHAR PRIMARY KEY,
    user_id     BIGINT NOT NULL,
    source      VARCHAR NOT NULL DEFAULT 'password',   -- password | oidc | header
    created_at  TIMESTAMP NOT NULL,
    expires_at  TIMESTAMP NOT NULL,
    revoked_at  TIMESTAMP
);

-- Secrets generated on first use (the HMAC key of session tokens). They live
-- in the database file, which is never committed, not in the repository.
CREATE TABLE app_secrets (
    name        VARCHAR PRIMARY KEY,
    value       VARCHAR NOT NULL,
    created_at  TIMESTAMP NOT NULL DEFAULT current_timestamp
);

-- Optimistic concurrency on every row a user or an import can edit.
ALTER TABLE orders ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE account_links ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE opportunity_team ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE import_mappings ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE import_batches ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
