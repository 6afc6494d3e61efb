from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("learning", "0001_initial"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="loggedprediction",
            index=models.Index(
                condition=models.Q(("text", ""), _negated=True),
                fields=["top_probability"],
                name="predictions_review_top_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="loggedprediction",
            index=models.Index(
                condition=models.Q(("text", ""), _negated=True),
                fields=["margin"],
                name="predictions_review_margin_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="loggedprediction",
            index=models.Index(
                condition=models.Q(("text", ""), _negated=True),
                fields=["-entropy"],
                name="predictions_review_entropy_idx",
            ),
        ),
    ]
