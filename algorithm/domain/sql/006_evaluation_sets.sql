-- The frozen evaluation set: rows of web's `data` table kept out of training, on which
-- every version is measured, so that two versions' figures compare on the same rows.
-- At most one set is current (retire_time NULL); a replaced or deleted set is retired and
-- loses its rows, but its record stays, so a version's manifest naming it still resolves.
CREATE TABLE IF NOT EXISTS evaluation_sets (
    id             uuid PRIMARY KEY,
    create_time    timestamptz NOT NULL DEFAULT now(),
    retire_time    timestamptz,
    method         text NOT NULL CHECK (method IN ('fraction', 'ids')),
    fraction       double precision CHECK (fraction > 0 AND fraction < 1),
    stratified     boolean NOT NULL DEFAULT true,
    seed           bigint NOT NULL DEFAULT 0,
    -- The share of new review and feedback rows that join the set as they come.
    new_rows_share double precision NOT NULL DEFAULT 0
                   CHECK (new_rows_share >= 0 AND new_rows_share <= 1),
    -- The highest data id already considered for joining.
    synced_data_id bigint NOT NULL DEFAULT 0,
    row_count      bigint NOT NULL DEFAULT 0
);

CREATE UNIQUE INDEX IF NOT EXISTS evaluation_sets_one_current_idx
    ON evaluation_sets ((true)) WHERE retire_time IS NULL;

-- No foreign key to `data` (web's table): a deleted data row just drops out of the join.
CREATE TABLE IF NOT EXISTS evaluation_set_rows (
    set_id  uuid NOT NULL REFERENCES evaluation_sets (id) ON DELETE CASCADE,
    data_id bigint NOT NULL,
    PRIMARY KEY (set_id, data_id)
);
