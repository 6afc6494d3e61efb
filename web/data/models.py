from django.db import models

LABEL_MAX_LENGTH = 100
# Enforced by the API rather than the column, so the limit can move without a migration.
TEXT_MAX_LENGTH = 20_000


class Data(models.Model):
    """One labelled training example. The worker reads this table with raw SQL."""

    text = models.TextField()
    label = models.CharField(max_length=LABEL_MAX_LENGTH, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "data"
        ordering = ("id",)
        verbose_name_plural = "data"

    def __str__(self) -> str:
        return f"{self.label}: {self.text[:50]}"
