-- Traffic between versions. Each serving process adds what it answered, per version and
-- minute, every second: the canary rollback check reads a candidate's answers and errors
-- since it became the canary.
CREATE TABLE IF NOT EXISTS traffic_counts (
    model_id  uuid NOT NULL,
    minute    timestamptz NOT NULL,
    answers   bigint NOT NULL DEFAULT 0,
    errors    bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (model_id, minute)
);

-- How a shadow's labels compared with the champion's on the same texts, counted by the pair
-- of labels: agreement overall and per label without keeping a row per prediction.
CREATE TABLE IF NOT EXISTS shadow_agreement (
    shadow_id      uuid NOT NULL,
    champion_id    uuid NOT NULL,
    champion_label text NOT NULL,
    shadow_label   text NOT NULL,
    count          bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (shadow_id, champion_id, champion_label, shadow_label)
);
