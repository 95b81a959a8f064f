-- Import batches can create stages (unknown stages created on request) and
-- opportunity contact roles; both need the batch id so an undo removes them.
-- import_row_backups.key_json identifies rows of tables without an id column.
ALTER TABLE stages ADD COLUMN import_batch_id BIGINT;
ALTER TABLE opportunity_contacts ADD COLUMN import_batch_id BIGINT;
ALTER TABLE import_batches ADD COLUMN notes VARCHAR;
ALTER TABLE import_batches ADD COLUMN seconds DOUBLE;
