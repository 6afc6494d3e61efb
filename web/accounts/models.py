import hashlib

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone

from common.limits import MAX_TOKEN_NAME_CHARS
from web.accounts.scopes import SCOPE_CHOICES


def digest_of(key: str) -> str:
    """What the database keeps of a token: the SHA-256 of its key, in hex.

    A fast hash is enough: generated keys hold 160 random bits, which no one can search, so
    the slow, salted hashes that protect guessable passwords would only cost every uncached
    request their time. (API_TOKEN may be given rather than generated; it is as strong as
    the value chosen.) Unsalted, the digest is also the key to look a token up by.
    """
    return hashlib.sha256(key.encode()).hexdigest()


class ApiToken(models.Model):
    """An API token. The key itself is shown once, when the token is made, and never stored."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=MAX_TOKEN_NAME_CHARS, blank=True)
    digest = models.CharField(max_length=64, unique=True)
    scopes = ArrayField(models.CharField(max_length=16, choices=SCOPE_CHOICES))
    # A default rather than auto_now_add, so that migrated tokens keep their creation time.
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    # Revoked tokens stay, so that the list still says who held what and until when.
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return f"token {self.pk} of {self.user}"

    @property
    def fingerprint(self) -> str:
        """A public handle for the key: the first 8 hex digits of its digest, which reveal
        nothing of a generated key (`printf %s "$KEY" | sha256sum | cut -c1-8`)."""
        return self.digest[:8]


class ConsoleAccess(models.Model):
    """A person's right to sign in to the console (web/console/) with their password, and
    what they may do there: the API's scopes, with the same implications
    (web/accounts/scopes.py). Users without it (the API's token users, whose passwords are
    unusable) cannot sign in."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, models.CASCADE, related_name="console_access"
    )
    scopes = ArrayField(models.CharField(max_length=16, choices=SCOPE_CHOICES))
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("user__username",)

    def __str__(self) -> str:
        return f"console access of {self.user}"
