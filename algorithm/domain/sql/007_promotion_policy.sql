-- The promotion policy: when to train a challenger and the rule that decides whether it
-- replaces the active version (algorithm/domain/promotion.py). One row at most.
CREATE TABLE IF NOT EXISTS promotion_policy (
    singleton     boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    policy        jsonb NOT NULL,
    update_time   timestamptz NOT NULL DEFAULT now(),
    -- The every_new_rows trigger counts data rows with a higher id than this.
    counted_from_id bigint NOT NULL DEFAULT 0,
    -- When the last challenger was queued, from which the cron trigger's next tick is due.
    last_trigger_time timestamptz NOT NULL DEFAULT now()
);

-- A training job whose version is a challenger: published but not activated, then
-- promoted or kept by the policy's rule.
ALTER TABLE jobs ADD COLUMN IF NOT EXISTS promotion boolean NOT NULL DEFAULT false;
CREATE INDEX IF NOT EXISTS jobs_promotion_in_flight_idx
    ON jobs (create_time) WHERE promotion AND state IN ('queued', 'running');
