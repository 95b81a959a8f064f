-- Accounts whose value summary rows are out of date: the change listener only
-- records them here (a write stays a few milliseconds), and the next value
-- read recomputes them in one batch. account_id -1 means "every account".
CREATE TABLE value_summary_dirty (
    account_id          BIGINT NOT NULL
);
