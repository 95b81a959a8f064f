-- Which items of its stage's playbook a deal has done: one row per ticked item.
-- Keyed by the item's text, not its position, so reordering a playbook in
-- Settings keeps every tick; renaming an item starts it unticked.
CREATE TABLE playbook_ticks (
    opportunity_id  BIGINT NOT NULL,
    stage_id        BIGINT NOT NULL,
    item            VARCHAR NOT NULL,
    done_by         BIGINT,
    done_at         TIMESTAMP NOT NULL,
    PRIMARY KEY (opportunity_id, stage_id, item)
);
