-- Retention (algorithm/domain/retention.py) finds old finished jobs and old results by these, so a
-- daily purge reads only what it deletes.
CREATE INDEX IF NOT EXISTS jobs_finished_idx ON jobs (end_time)
    WHERE state IN ('succeeded', 'failed');
CREATE INDEX IF NOT EXISTS results_timestamp_idx ON results (timestamp);
