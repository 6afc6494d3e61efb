-- Scheduled monitoring: one cron schedule per model, and labelled outcomes to score.
CREATE TABLE IF NOT EXISTS metrics_executions (
    model_id        uuid PRIMARY KEY,
    cron_expression text NOT NULL,
    create_time     timestamptz NOT NULL DEFAULT now(),
    update_time     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS results (
    id        bigserial PRIMARY KEY,
    model_id  uuid NOT NULL,
    y_true    jsonb NOT NULL,
    y_pred    jsonb NOT NULL,
    timestamp timestamptz NOT NULL DEFAULT now()
);

-- "Newest row for a model" is the latest timestamp, then the highest id: this index serves
-- exactly that ORDER BY, so the periodic task reads one index entry.
CREATE INDEX IF NOT EXISTS results_newest_idx ON results (model_id, timestamp DESC, id DESC);
