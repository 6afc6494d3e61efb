-- Evaluations of model versions (metric records), filled by evaluation jobs.
ALTER TABLE jobs ADD COLUMN IF NOT EXISTS metric_id uuid;

CREATE TABLE IF NOT EXISTS metric_records (
    id          uuid PRIMARY KEY,
    model_id    uuid NOT NULL,
    job_id      uuid NOT NULL REFERENCES jobs (id),
    source      text NOT NULL CHECK (source IN ('data_table', 'upload')),
    row_count   bigint NOT NULL DEFAULT 0,
    metrics     jsonb,
    create_time timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS metric_records_model_idx ON metric_records (model_id, create_time DESC);

-- Rows uploaded for one evaluation; the worker reads them with SQL, so they never pass
-- through the broker.
CREATE TABLE IF NOT EXISTS evaluation_rows (
    metric_id uuid NOT NULL REFERENCES metric_records (id) ON DELETE CASCADE,
    position  integer NOT NULL,
    text      text NOT NULL,
    label     text NOT NULL,
    PRIMARY KEY (metric_id, position)
);
