-- Test data for scheduled monitoring: python -m algorithm.tools.sql_schema --test-data loads it.
-- The newest row of a model is its latest timestamp, then its highest id.
-- Safe to load again: it replaces these two models' rows.
DELETE FROM results
WHERE model_id IN ('11111111-1111-4111-8111-111111111111', '22222222-2222-4222-8222-222222222222');

-- Model 11111111-...: three rows; the newest (the last, 2026-01-03) scores 0.75.
INSERT INTO results (model_id, y_true, y_pred, timestamp) VALUES
    -- accuracy 0.50
    ('11111111-1111-4111-8111-111111111111', '["spam", "ham", "ham", "spam"]', '["spam", "spam", "ham", "ham"]', '2026-01-01T10:00:00Z'),
    -- accuracy 1.00
    ('11111111-1111-4111-8111-111111111111', '["ham", "ham"]', '["ham", "ham"]', '2026-01-02T10:00:00Z'),
    -- accuracy 0.75: the newest
    ('11111111-1111-4111-8111-111111111111', '["spam", "ham", "ham", "spam"]', '["spam", "ham", "spam", "spam"]', '2026-01-03T10:00:00Z');

-- Model 22222222-...: labels as numbers; the last two rows share one timestamp, so the
-- higher id (inserted last) is the newest and scores 0.60.
INSERT INTO results (model_id, y_true, y_pred, timestamp) VALUES
    -- accuracy 0.25
    ('22222222-2222-4222-8222-222222222222', '[1, 0, 1, 0]', '[0, 0, 0, 1]', '2026-02-01T08:00:00Z'),
    -- accuracy 1.00, same timestamp as the next row but a lower id
    ('22222222-2222-4222-8222-222222222222', '[1, 1, 0]', '[1, 1, 0]', '2026-02-02T08:00:00Z'),
    -- accuracy 0.60: the newest
    ('22222222-2222-4222-8222-222222222222', '[1, 0, 1, 0, 1]', '[1, 0, 0, 1, 1]', '2026-02-02T08:00:00Z');
