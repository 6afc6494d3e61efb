"""The deployment's secrets: each from its environment variable, or else generated once and
kept in SECRETS_DIR, so a fresh start needs no file to edit and no secret has a value that
anyone else knows.

``python -m common.credentials`` (the first step of ``make run`` and of compose's release
service) generates what is missing and prints the API token the one time it is made;
``python -m common.credentials show API_TOKEN`` prints it again.
"""

import os
import secrets
import sys

from common import settings
from common.settings import env

# Every secret the services read. An explicit environment value always wins.
NAMES = (
    "API_TOKEN",
    "DJANGO_SECRET_KEY",
    "MODEL_SIGNING_KEY",
    "ALGORITHM_SERVICE_TOKEN",
)


class MissingSecret(RuntimeError):
    pass


def secret(name: str) -> str:
    """The secret's value: the environment's, or the one kept in SECRETS_DIR."""
    value = env(name, "")
    if value:
        return value
    path = settings.SECRETS_DIR / name
    try:
        value = path.read_text().strip()
    except FileNotFoundError:
        value = ""
    if not value:
        raise MissingSecret(
            f"{name} is not set and {path} does not exist: set {name}, or run "
            "`python -m common.credentials` (make run and compose's release step do) to "
            "generate it."
        )
    return value


def ensure_secrets() -> list[str]:
    """Generate every secret that is neither set nor kept yet; the names generated."""
    settings.SECRETS_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    generated = []
    for name in NAMES:
        if env(name, ""):
            continue
        try:
            # O_EXCL: of two first starts at once, one writes and the other keeps its value.
            fd = os.open(settings.SECRETS_DIR / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        with os.fdopen(fd, "w") as stream:
            # 160 random bits in 40 characters: what an API token may hold.
            stream.write(secrets.token_hex(20) + "\n")
            stream.flush()
            os.fsync(stream.fileno())
        generated.append(name)
    return generated


def main(argv: list[str]) -> int:
    if argv[:1] == ["show"] and len(argv) == 2 and argv[1] in NAMES:
        print(secret(argv[1]))
        return 0
    if argv:
        print(f"usage: python -m common.credentials [show {'|'.join(NAMES)}]", file=sys.stderr)
        return 2
    generated = ensure_secrets()
    if generated:
        print(f"Generated {', '.join(generated)} in {settings.SECRETS_DIR}.")
    if "API_TOKEN" in generated:
        print(f"The API token is {secret('API_TOKEN')}")
        print("Read it again with: python -m common.credentials show API_TOKEN")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
