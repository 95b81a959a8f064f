-- Forecast: slippage and staleness join the per-deal facts, so the slippage
-- and stale-deal views are one scan of forecast_facts instead of joining the
-- close-date history and a million deals per view.
ALTER TABLE forecast_facts ADD COLUMN expected_close DATE;
ALTER TABLE forecast_facts ADD COLUMN last_touch DATE;     -- last activity, else stage change, else creation
ALTER TABLE forecast_facts ADD COLUMN slips INTEGER;       -- close-date moves to a later date
ALTER TABLE forecast_facts ADD COLUMN slip_days INTEGER;   -- their total days
ALTER TABLE forecast_facts ADD COLUMN first_close DATE;    -- the earliest date a slip moved away from

-- close_date_history has no id: its row count and latest change time say what the facts have seen.
ALTER TABLE forecast_facts_state ADD COLUMN close_rows BIGINT;
ALTER TABLE forecast_facts_state ADD COLUMN close_max_at TIMESTAMP;

-- Facts built before this migration lack the new columns: rebuild on next read.
DELETE FROM forecast_facts_state;
