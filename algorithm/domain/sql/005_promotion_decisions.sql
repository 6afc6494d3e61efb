-- Decisions about which version answers: a challenger promoted or kept under the promotion
-- policy, a canary rolled back. Each keeps the rule it applied and its evidence.
CREATE TABLE IF NOT EXISTS promotion_decisions (
    id           uuid PRIMARY KEY,
    create_time  timestamptz NOT NULL DEFAULT now(),
    kind         text NOT NULL CHECK (kind IN ('promotion', 'canary_rollback')),
    outcome      text NOT NULL CHECK (outcome IN ('promoted', 'kept', 'rolled_back')),
    champion_id  uuid,
    candidate_id uuid,
    job_id       uuid,
    reason       text NOT NULL,
    rule         jsonb NOT NULL,
    evidence     jsonb NOT NULL
);

CREATE INDEX IF NOT EXISTS promotion_decisions_newest_idx
    ON promotion_decisions (create_time DESC, id DESC);
