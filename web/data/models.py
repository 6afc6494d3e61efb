from django.db import models

from common.limits import MAX_LABEL_CHARS

# The text's limit (common.limits.MAX_TEXT_CHARS) is enforced by the API rather than the
# column, so it can move without a migration.


class Source(models.TextChoices):
    """Where a row came from: the data API, a file import, the review queue, feedback."""

    API = "api"
    IMPORT = "import"
    REVIEW = "review"
    FEEDBACK = "feedback"


class Data(models.Model):
    """One labelled training example. The worker reads this table with raw SQL."""

    text = models.TextField()
    label = models.CharField(max_length=MAX_LABEL_CHARS, db_index=True)
    # Rows from before sources were recorded came through the API; so do rows inserted with
    # SQL that names no source (the column's own default).
    source = models.CharField(
        max_length=16,
        choices=Source.choices,
        default=Source.API,
        db_default=Source.API,
        db_index=True,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "data"
        ordering = ("id",)
        verbose_name_plural = "data"

    def __str__(self) -> str:
        return f"{self.label}: {self.text[:50]}"
