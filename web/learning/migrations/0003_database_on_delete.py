"""The database itself applies the models' on_delete to the learning loop's foreign keys.

Django emulates CASCADE and SET_NULL in Python and creates the constraints without an ON
DELETE rule, but rows of `predictions` are deleted with SQL by the algorithm service's
retention job (algorithm/domain/retention.py), and `data` rows by restores and tests: with
the rule in the database, a prediction's feedback goes with it and a review item or
feedback merely loses its link, whoever deletes. A later migration that alters one of these
fields recreates its constraint without the rule and must repeat this one's SQL.
"""

from django.db import migrations

_ON_DELETE = """
DO $$
DECLARE
    constraint_row record;
BEGIN
    FOR constraint_row IN
        SELECT c.conname, c.conrelid::regclass AS owner, a.attname AS column_name,
               c.confrelid::regclass AS target
        FROM pg_constraint c
        JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
        WHERE c.contype = 'f' AND c.conrelid IN ('feedback'::regclass, 'review_items'::regclass)
    LOOP
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', constraint_row.owner,
                       constraint_row.conname);
        EXECUTE format(
            'ALTER TABLE %s ADD CONSTRAINT %I FOREIGN KEY (%I) REFERENCES %s (id) '
            'ON DELETE %s DEFERRABLE INITIALLY DEFERRED',
            constraint_row.owner, constraint_row.conname, constraint_row.column_name,
            constraint_row.target,
            CASE WHEN constraint_row.owner = 'feedback'::regclass
                      AND constraint_row.column_name = 'prediction_id'
                 THEN 'CASCADE' ELSE 'SET NULL' END);
    END LOOP;
END $$;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("learning", "0002_review_queue_indexes"),
        ("data", "0003_data_source_db_default"),
    ]

    operations = [migrations.RunSQL(_ON_DELETE, reverse_sql=migrations.RunSQL.noop)]
