-- Background jobs (training), kept here rather than in Celery's result store so an
-- unknown id is a clear "not found" and a job's history survives broker restarts.
CREATE TABLE IF NOT EXISTS jobs (
    id          uuid PRIMARY KEY,
    kind        text NOT NULL,
    state       text NOT NULL DEFAULT 'queued'
                CHECK (state IN ('queued', 'running', 'succeeded', 'failed')),
    stage       text CHECK (stage IN ('loading', 'training', 'evaluating', 'saving')),
    progress    double precision NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 1),
    rows_read   bigint NOT NULL DEFAULT 0,
    rows_total  bigint NOT NULL DEFAULT 0,
    algorithm   text NOT NULL,
    parameters  jsonb NOT NULL DEFAULT '{}'::jsonb,
    request_id  uuid UNIQUE,
    model_id    uuid,
    metrics     jsonb,
    error       text,
    create_time timestamptz NOT NULL DEFAULT now(),
    start_time  timestamptz,
    end_time    timestamptz,
    update_time timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS jobs_create_time_idx ON jobs (create_time DESC);

-- How many times a worker has taken the job: a job whose worker keeps dying is failed,
-- not queued again forever.
ALTER TABLE jobs ADD COLUMN IF NOT EXISTS attempts integer NOT NULL DEFAULT 0;
-- Running jobs whose worker stopped touching them are found by this.
CREATE INDEX IF NOT EXISTS jobs_running_idx ON jobs (update_time) WHERE state = 'running';
