-- Forecast: the opportunities' row count and sum of versions as last copied,
-- so a read after a write can tell "nothing changed" without checksumming
-- every block (crm_core.forecast_facts).
ALTER TABLE forecast_facts_state ADD COLUMN opp_rows BIGINT;
ALTER TABLE forecast_facts_state ADD COLUMN opp_version_sum HUGEINT;
DELETE FROM forecast_facts_state;
