"""Secrets not given in the environment are generated once per deployment, kept where only
the service's user can read them, and the API token is shown once, with how to read it again."""

import errno
import hashlib
import os
import pathlib
import stat
import subprocess
import sys

import pytest

from common import credentials, settings
from tests.support import REPO_ROOT


@pytest.fixture
def secrets_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(settings, "SECRETS_DIR", tmp_path / "secrets")
    for name in (*credentials.NAMES, *credentials.ROTATION_NAMES, *credentials.SERVER_NAMES):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "secrets"


def test_each_missing_secret_is_generated_once_and_kept(secrets_dir):
    assert credentials.ensure_secrets() == list(credentials.NAMES)
    values = {name: credentials.secret(name) for name in credentials.NAMES}

    assert credentials.ensure_secrets() == []
    assert {name: credentials.secret(name) for name in credentials.NAMES} == values
    assert len(set(values.values())) == len(values)
    for name, value in values.items():
        assert len(value) == 40 and int(value, 16) >= 0
        assert stat.S_IMODE((secrets_dir / name).stat().st_mode) == 0o600
    assert stat.S_IMODE(secrets_dir.stat().st_mode) == 0o700


def test_a_folder_made_before_with_looser_modes_is_made_private(secrets_dir):
    # A folder made by hand, or by an older version, with the umask's modes.
    secrets_dir.mkdir(mode=0o755)
    secrets_dir.chmod(0o755)
    (secrets_dir / "API_TOKEN").write_text("kept\n")
    (secrets_dir / "API_TOKEN").chmod(0o644)

    credentials.ensure_secrets()

    assert stat.S_IMODE(secrets_dir.stat().st_mode) == 0o700
    for path in secrets_dir.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    assert credentials.secret("API_TOKEN") == "kept"


def test_a_folder_that_cannot_be_changed_is_left_with_a_warning(secrets_dir, monkeypatch, capsys):
    secrets_dir.mkdir()
    secrets_dir.chmod(0o755)

    def read_only(self, mode):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(self))

    # A read-only mount (compose's or Kubernetes' /secrets) refuses chmod so.
    monkeypatch.setattr(pathlib.Path, "chmod", read_only)
    credentials._restrict(secrets_dir, 0o700)

    assert stat.S_IMODE(secrets_dir.stat().st_mode) == 0o755
    assert capsys.readouterr().err == (
        f"warning: {secrets_dir} stays mode 0755, readable by others, as it cannot be changed "
        "(Read-only file system); make it 0700.\n"
    )


def test_another_users_folder_is_left_as_its_owner_set_it(secrets_dir, monkeypatch, capsys):
    # A Kubernetes Secret volume belongs to root; its modes are the manifest's defaultMode.
    secrets_dir.mkdir()
    secrets_dir.chmod(0o755)
    monkeypatch.setattr(os, "geteuid", lambda: secrets_dir.stat().st_uid + 1)

    credentials._restrict(secrets_dir, 0o700)

    assert stat.S_IMODE(secrets_dir.stat().st_mode) == 0o755
    assert capsys.readouterr().err == ""


def test_a_secret_in_the_environment_wins_and_is_not_generated(secrets_dir, monkeypatch):
    monkeypatch.setenv("API_TOKEN", "from-the-environment")

    assert "API_TOKEN" not in credentials.ensure_secrets()
    assert not (secrets_dir / "API_TOKEN").exists()
    assert credentials.secret("API_TOKEN") == "from-the-environment"


def test_the_token_is_printed_when_made_and_read_again_on_demand(tmp_path):
    env = {key: value for key, value in os.environ.items() if key not in credentials.NAMES}
    env["SECRETS_DIR"] = str(tmp_path / "secrets")

    def run(*args: str) -> str:
        return subprocess.run(
            [sys.executable, "-m", "common.credentials", *args],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout

    first = run()
    token = (tmp_path / "secrets" / "API_TOKEN").read_text().strip()
    assert first.splitlines()[1:] == [
        f"The API token is {token}",
        "Read it again with: python -m common.credentials show API_TOKEN",
    ]
    assert run() == ""
    assert run("show", "API_TOKEN") == f"{token}\n"


def test_server_passwords_are_generated_only_when_asked_for(secrets_dir):
    # make run's local PostgreSQL and Redis take no password: none may be made for them.
    credentials.ensure_secrets()
    assert sorted(path.name for path in secrets_dir.iterdir()) == sorted(credentials.NAMES)
    assert credentials.optional_secret("REDIS_PASSWORD") == ""


def test_each_folder_gets_exactly_its_secrets_and_nothing_left_from_before(secrets_dir, tmp_path):
    web, redis = tmp_path / "web", tmp_path / "redis"
    web.mkdir()
    redis.mkdir()
    (web / "MODEL_SIGNING_KEY").write_text("taken off web's list\n")

    assert (
        credentials.main(
            ["share", f"{web}:API_TOKEN,REDIS_PASSWORD", f"{redis}:REDIS_PASSWORD,redis-users.acl"]
        )
        == 0
    )

    assert sorted(path.name for path in web.iterdir()) == ["API_TOKEN", "REDIS_PASSWORD"]
    assert sorted(path.name for path in secrets_dir.iterdir()) == ["API_TOKEN", "REDIS_PASSWORD"]
    password = credentials.secret("REDIS_PASSWORD")
    assert (web / "REDIS_PASSWORD").read_text() == f"{password}\n"
    assert (web / "API_TOKEN").read_text() == f"{credentials.secret('API_TOKEN')}\n"
    # Redis's ACL file holds the password's hash, never the password.
    digest = hashlib.sha256(password.encode()).hexdigest()
    acl = (redis / "redis-users.acl").read_text()
    assert acl == f"user default on #{digest} ~* &* +@all\n"
    assert password not in acl
    for path in (*web.iterdir(), *redis.iterdir()):
        assert stat.S_IMODE(path.stat().st_mode) == 0o440
    assert stat.S_IMODE(web.stat().st_mode) == 0o750


def test_sharing_again_copies_the_current_value_over_the_old_one(
    secrets_dir, tmp_path, monkeypatch
):
    folder = tmp_path / "db"
    folder.mkdir()
    credentials.main(["share", f"{folder}:DATABASE_PASSWORD"])
    monkeypatch.setenv("DATABASE_PASSWORD", "given-later")

    credentials.main(["share", f"{folder}:DATABASE_PASSWORD"])

    assert (folder / "DATABASE_PASSWORD").read_text() == "given-later\n"


def test_a_previous_value_is_shared_during_a_rotation_only_and_never_generated(
    secrets_dir, tmp_path, monkeypatch
):
    folder = tmp_path / "algorithm"
    folder.mkdir()
    share = ["share", f"{folder}:ALGORITHM_SERVICE_TOKEN,ALGORITHM_SERVICE_TOKEN_PREVIOUS"]
    credentials.main(share)
    assert sorted(path.name for path in folder.iterdir()) == ["ALGORITHM_SERVICE_TOKEN"]
    old = credentials.secret("ALGORITHM_SERVICE_TOKEN")

    monkeypatch.setenv("ALGORITHM_SERVICE_TOKEN", "the-new-credential")
    monkeypatch.setenv("ALGORITHM_SERVICE_TOKEN_PREVIOUS", old)
    credentials.main(share)
    assert (folder / "ALGORITHM_SERVICE_TOKEN").read_text() == "the-new-credential\n"
    assert (folder / "ALGORITHM_SERVICE_TOKEN_PREVIOUS").read_text() == f"{old}\n"

    monkeypatch.delenv("ALGORITHM_SERVICE_TOKEN_PREVIOUS")
    credentials.main(share)
    assert sorted(path.name for path in folder.iterdir()) == ["ALGORITHM_SERVICE_TOKEN"]
    assert not (secrets_dir / "ALGORITHM_SERVICE_TOKEN_PREVIOUS").exists()


@pytest.mark.parametrize("argument", ["no-colon", "/x:", "/x:NOT_A_SECRET", ":API_TOKEN"], ids=repr)
def test_a_share_that_names_no_folder_or_an_unknown_secret_is_refused(secrets_dir, argument):
    assert credentials.main(["share", argument]) == 2
    assert not secrets_dir.exists()


@pytest.mark.parametrize(
    ("url", "kept", "expected"),
    [
        (
            "postgres://textclf@db:5432/textclf",
            "p@ss/w:rd",
            "postgres://textclf:p%40ss%2Fw%3Ard@db:5432/textclf",
        ),
        ("redis://redis:6379/0", "s3cret", "redis://:s3cret@redis:6379/0"),
        # A password in the URL is an explicit choice: it wins.
        ("redis://:given@redis:6379/0", "s3cret", "redis://:given@redis:6379/0"),
        # No secret kept (make run's local servers): the URL as it is.
        (
            "postgres://postgres@127.0.0.1:5432/textclf",
            "",
            "postgres://postgres@127.0.0.1:5432/textclf",
        ),
    ],
)
def test_a_url_without_a_password_gets_the_kept_one(secrets_dir, url, kept, expected):
    if kept:
        secrets_dir.mkdir()
        (secrets_dir / "SOME_PASSWORD").write_text(f"{kept}\n")

    assert settings.with_password(url, "SOME_PASSWORD") == expected
