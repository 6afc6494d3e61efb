-- A challenger that passed its checks on the evaluation set under a policy with a minimum
-- shadow agreement is first set as the shadow: a decision with the outcome 'shadowing',
-- followed by its final one (promoted or kept) with the same job_id.
DO $$
BEGIN
    -- Replaced only while it lacks the new outcome: each start re-applies this file, and
    -- re-adding the constraint would lock the table and scan it every time.
    IF NOT EXISTS (
        SELECT 1 FROM pg_constraint
        WHERE conrelid = 'promotion_decisions'::regclass
          AND conname = 'promotion_decisions_outcome_check'
          AND pg_get_constraintdef(oid) LIKE '%shadowing%'
    ) THEN
        ALTER TABLE promotion_decisions DROP CONSTRAINT IF EXISTS promotion_decisions_outcome_check;
        ALTER TABLE promotion_decisions ADD CONSTRAINT promotion_decisions_outcome_check
            CHECK (outcome IN ('promoted', 'kept', 'rolled_back', 'shadowing'));
    END IF;
END
$$;

-- A job's decisions: the redelivery lookup, and the shadow check's search for a final one.
CREATE INDEX IF NOT EXISTS promotion_decisions_job_idx ON promotion_decisions (job_id);
