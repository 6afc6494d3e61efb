from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("data", "0002_data_source"),
    ]

    operations = [
        migrations.AlterField(
            model_name="data",
            name="source",
            field=models.CharField(
                choices=[
                    ("api", "Api"),
                    ("import", "Import"),
                    ("review", "Review"),
                    ("feedback", "Feedback"),
                ],
                db_default="api",
                db_index=True,
                default="api",
                max_length=16,
            ),
        ),
    ]
