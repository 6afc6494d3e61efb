"""The deployment's secrets: each from its environment variable, or else generated once and
kept in SECRETS_DIR, so a fresh start needs no file to edit and no secret has a value that
anyone else knows.

``python -m common.credentials`` (the first step of ``make run``) generates what is missing
and prints the API token the one time it is made; ``python -m common.credentials show
API_TOKEN`` prints it again. ``python -m common.credentials share DIR:NAME,... ...`` (compose's
``secrets`` step) does the same for the names listed, then copies each group of secrets into
its folder: one folder per container, so that each holds only the secrets it uses.
"""

import hashlib
import os
import pathlib
import secrets
import stat
import sys
import tempfile

from common import settings
from common.settings import env, optional_secret

# Every secret the services read. An explicit environment value always wins.
NAMES = (
    "API_TOKEN",
    "DJANGO_SECRET_KEY",
    "MODEL_SIGNING_KEY",
    "ALGORITHM_SERVICE_TOKEN",
    "PREDICTION_LOG_KEY",
)
# Set only while a secret is rotated (docs/operations.md), never generated: the value being
# retired, still accepted beside the new one. Shared like the others when set; a container's
# copy goes once it is unset.
ROTATION_NAMES = (
    "MODEL_SIGNING_KEY_PREVIOUS",
    "ALGORITHM_SERVICE_TOKEN_PREVIOUS",
)
# The passwords of a deployment that runs its own PostgreSQL and Redis (compose): the
# database's superuser, the application's database role, Redis's default user. Read only when
# present (common.settings puts them into DATABASE_URL and REDIS_URL), and generated only when
# asked for by name, since `make run`'s local servers take no password.
SERVER_NAMES = (
    "POSTGRES_PASSWORD",
    "DATABASE_PASSWORD",
    "REDIS_PASSWORD",
)


def _redis_acl(password: str) -> str:
    # Only the password's SHA-256: Redis compares hashes, and the file never shows the password.
    digest = hashlib.sha256(password.encode()).hexdigest()
    return f"user default on #{digest} ~* &* +@all\n"


# Files made from a secret for a server that reads its own format: name -> (secret, render).
DERIVED = {"redis-users.acl": ("REDIS_PASSWORD", _redis_acl)}


class MissingSecret(RuntimeError):
    pass


def secret(name: str) -> str:
    """The secret's value: the environment's, or the one kept in SECRETS_DIR."""
    value = optional_secret(name)
    if not value:
        raise MissingSecret(
            f"{name} is not set and {settings.SECRETS_DIR / name} does not exist: set {name}, "
            "or run `python -m common.credentials` (make run and compose's secrets step do) "
            "to generate it."
        )
    return value


def _restrict(path: pathlib.Path, mode: int) -> None:
    """Give a folder or file of this user's that others may read `mode` (mkdir's mode is
    ignored when the folder exists: one made before, or by hand, may be 0755). One of another
    user's (a Kubernetes Secret volume, owned by root) is left as its owner set it; one this
    user cannot change (a read-only mount) is left too, with a warning on stderr."""
    status = path.lstat()
    if status.st_uid != os.geteuid() or not status.st_mode & 0o077:
        return
    if not (stat.S_ISDIR(status.st_mode) or stat.S_ISREG(status.st_mode)):
        return
    try:
        path.chmod(mode)
    except OSError as error:
        print(
            f"warning: {path} stays mode {stat.S_IMODE(status.st_mode):04o}, readable by "
            f"others, as it cannot be changed ({error.strerror}); make it {mode:04o}.",
            file=sys.stderr,
        )


def ensure_secrets(names: tuple[str, ...] = NAMES) -> list[str]:
    """Generate every secret of `names` that is neither set nor kept yet; the names generated.
    The folder is kept 0700 and the secrets in it 0600, however they were made."""
    settings.SECRETS_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    _restrict(settings.SECRETS_DIR, 0o700)
    for kept in settings.SECRETS_DIR.iterdir():
        _restrict(kept, 0o600)
    generated = []
    for name in names:
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


def _write_replacing(path: pathlib.Path, text: str) -> None:
    # A new file renamed over the old: a reader sees the old value or the new one, whole.
    fd, staging = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    try:
        with os.fdopen(fd, "w") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        # Group-readable: PostgreSQL and Redis read theirs as a member of the app's group.
        os.chmod(staging, 0o440)
        os.replace(staging, path)
    except BaseException:
        os.unlink(staging)
        raise


def share(directory: pathlib.Path, names: list[str]) -> None:
    """Make `directory` hold exactly `names` (secrets, or files of DERIVED), current values;
    a name of ROTATION_NAMES only while it is set."""
    directory.chmod(0o750)
    for name in names:
        if name in ROTATION_NAMES:
            value = optional_secret(name)
            text = f"{value}\n" if value else ""
        elif name in DERIVED:
            source, render = DERIVED[name]
            text = render(secret(source))
        else:
            text = secret(name) + "\n"
        if text:
            _write_replacing(directory / name, text)
        else:
            (directory / name).unlink(missing_ok=True)
    # A secret taken off a container's list leaves its folder at the next start.
    for stale in directory.iterdir():
        if stale.name not in names:
            stale.unlink()


def _parse_shares(arguments: list[str]) -> dict[str, list[str]]:
    shares = {}
    known = (*NAMES, *ROTATION_NAMES, *SERVER_NAMES, *DERIVED)
    for argument in arguments:
        directory, _, listed = argument.partition(":")
        names = [name for name in listed.split(",") if name]
        if not directory or not names or set(names) - set(known):
            raise ValueError(argument)
        shares[directory] = names
    return shares


def _report(generated: list[str]) -> None:
    if generated:
        print(f"Generated {', '.join(generated)} in {settings.SECRETS_DIR}.")
    if "API_TOKEN" in generated:
        print(f"The API token is {secret('API_TOKEN')}")
        print("Read it again with: python -m common.credentials show API_TOKEN")


def main(argv: list[str]) -> int:
    if argv[:1] == ["show"] and len(argv) == 2 and argv[1] in NAMES:
        print(secret(argv[1]))
        return 0
    if argv[:1] == ["share"] and len(argv) > 1:
        try:
            shares = _parse_shares(argv[1:])
        except ValueError as error:
            print(f"not DIR:NAME,...: {error}", file=sys.stderr)
            return 2
        wanted = {DERIVED.get(name, (name,))[0] for names in shares.values() for name in names}
        _report(ensure_secrets(tuple(name for name in (*NAMES, *SERVER_NAMES) if name in wanted)))
        for directory, names in shares.items():
            share(pathlib.Path(directory), names)
        return 0
    if argv:
        print(
            f"usage: python -m common.credentials [show {'|'.join(NAMES)}"
            " | share DIR:NAME,... ...]",
            file=sys.stderr,
        )
        return 2
    _report(ensure_secrets())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
