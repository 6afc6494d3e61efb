from django.db import migrations, models

# Feedback given before this release gets its prediction's version and label from the log.
COPY_FROM_PREDICTIONS = """
    UPDATE feedback AS f SET model_id = p.model_id, predicted = p.label
    FROM predictions AS p WHERE p.id = f.prediction_id
"""


class Migration(migrations.Migration):
    dependencies = [
        ("learning", "0004_shadow_columns"),
    ]

    operations = [
        migrations.AddField(
            model_name="feedback",
            name="model_id",
            field=models.UUIDField(null=True),
        ),
        migrations.AddField(
            model_name="feedback",
            name="predicted",
            field=models.CharField(max_length=100, null=True),
        ),
        migrations.RunSQL(COPY_FROM_PREDICTIONS, migrations.RunSQL.noop),
        migrations.AlterField(
            model_name="feedback",
            name="model_id",
            field=models.UUIDField(),
        ),
        migrations.AlterField(
            model_name="feedback",
            name="predicted",
            field=models.CharField(max_length=100),
        ),
        migrations.AddIndex(
            model_name="feedback",
            index=models.Index(
                fields=["model_id", "-created_at", "-id"],
                include=["predicted", "label"],
                name="feedback_model_idx",
            ),
        ),
    ]
