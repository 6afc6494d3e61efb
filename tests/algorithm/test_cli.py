"""The command line as a user runs it: a real process on data files, models in a tmp folder."""

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from algorithm.domain import ml
from algorithm.domain.store import ModelStore
from tests.support import REPO_ROOT

SMS = "tests/data/sms_spam.tsv"
TURKISH = "tests/data/confirmation_tr.tsv"
VERSION_FILES = {"model.pickle", "vectorizer.pickle", "manifest.json"}
# What algorithm.domain.training.run_training_job puts in a manifest, with the store's own keys.
WORKER_MANIFEST_KEYS = {
    "job_id",
    "algorithm",
    "parameters",
    "labels",
    "row_count",
    "data_snapshot",
    "metrics",
    "training_seconds",
    "runtime",
    "reference_profile",
    "model_id",
    "files",
    "library_versions",
    "created_time",
    "signature",
}


def run_cli(*args: str, model_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "algorithm.tools.cli", *args],
        cwd=REPO_ROOT,
        env={**os.environ, "MODEL_DIR": str(model_dir)},
        capture_output=True,
        text=True,
        timeout=120,
    )


class Trained(NamedTuple):
    model_dir: Path
    manifest: dict[str, Any]

    @property
    def model_id(self) -> str:
        return self.manifest["model_id"]


def train(dataset: str, model_dir: Path) -> Trained:
    result = run_cli("train", f"--dataset={dataset}", "--json", model_dir=model_dir)
    assert (result.returncode, result.stderr) == (0, "")
    return Trained(model_dir, json.loads(result.stdout))


@pytest.fixture(scope="module")
def sms(tmp_path_factory) -> Trained:
    """The SMS collection trained once, for the tests that only read the model."""
    return train(SMS, tmp_path_factory.mktemp("sms-models"))


@pytest.fixture(scope="module")
def turkish(tmp_path_factory) -> Trained:
    """The ten Turkish rows trained once; tests that change the model change a copy."""
    return train(TURKISH, tmp_path_factory.mktemp("turkish-models"))


def write(path: Path, content: str) -> str:
    path.write_text(content, encoding="utf-8")
    return str(path)


# train


def test_train_json_publishes_an_accurate_signed_version_and_activates_it(sms):
    manifest = sms.manifest
    assert manifest["metrics"]["accuracy"] >= 0.95
    assert set(manifest) == WORKER_MANIFEST_KEYS
    assert manifest["job_id"] is None
    assert (manifest["algorithm"], manifest["parameters"]) == (
        "linear_svm",
        {"C": 1.0, "ngram_max": 1},
    )
    assert (manifest["labels"], manifest["row_count"]) == (["ham", "spam"], 5574)
    assert manifest["data_snapshot"] == {
        "rows": 5574,
        "max_id": None,
        "last_update": manifest["data_snapshot"]["last_update"],
        "file": str(REPO_ROOT / SMS),
        "sha256": hashlib.sha256((REPO_ROOT / SMS).read_bytes()).hexdigest(),
    }
    assert uuid.UUID(sms.model_id).version == 4
    folder = sms.model_dir / sms.model_id
    assert {path.name for path in folder.iterdir()} == VERSION_FILES
    assert json.loads((folder / "manifest.json").read_text()) == manifest
    assert (sms.model_dir / "ACTIVE").read_text() == f"{sms.model_id}\n"


def test_train_prints_a_summary_and_writes_to_the_model_dir_option(tmp_path):
    model_dir, from_environment = tmp_path / "chosen", tmp_path / "environment"
    result = run_cli(
        "train",
        f"--dataset={SMS}",
        "--algorithm=logistic_regression",
        "--param",
        "C=10",
        "--model-dir",
        str(model_dir),
        model_dir=from_environment,
    )
    assert (result.returncode, result.stderr) == (0, "")
    lines = result.stdout.splitlines()
    model_id = (model_dir / "ACTIVE").read_text().strip()
    assert re.fullmatch(
        rf"Trained model {model_id} \(logistic_regression, C=10.0, ngram_max=1\) "
        r"on 5574 rows in \d+\.\d s\.",
        lines[0],
    )
    accuracy = re.fullmatch(
        r"Hold-out of 1394 rows: accuracy (\d\.\d{4}), macro F1 \d\.\d{4}", lines[1]
    )
    assert accuracy and float(accuracy[1]) >= 0.95
    assert [line.split()[0] for line in lines[2:4]] == ["ham", "spam"]
    assert lines[4:] == [f"It is the active model in {model_dir}."]
    assert not from_environment.exists()


# evaluate, predict, warmup


def test_evaluate_scores_the_turkish_file_with_the_model_trained_on_it(turkish):
    result = run_cli("evaluate", f"--dataset={TURKISH}", "--json", model_dir=turkish.model_dir)
    assert (result.returncode, result.stderr) == (0, "")
    evaluation = json.loads(result.stdout)
    assert (evaluation["model_id"], evaluation["row_count"]) == (turkish.model_id, 10)
    metrics = evaluation["metrics"]
    matrix = metrics["confusion_matrix"]
    assert matrix["labels"] == ["Confirmation_No", "Confirmation_Yes"]
    assert [sum(row) for row in matrix["rows"]] == [5, 5]
    assert metrics["accuracy"] == (matrix["rows"][0][0] + matrix["rows"][1][1]) / 10

    result = run_cli("evaluate", f"--dataset={TURKISH}", model_dir=turkish.model_dir)
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[:2] == [
        f"Model {turkish.model_id} on 10 rows of {TURKISH}:",
        f"accuracy {metrics['accuracy']:.4f}, macro F1 {metrics['macro_f1']:.4f}",
    ]
    assert lines[4] == "Confusion matrix (a row per true label, a column per predicted label):"
    assert lines[5] == " " * 20 + "Confirmation_No  Confirmation_Yes"
    assert [len(line) for line in lines[6:]] == [len(lines[5])] * 2  # the counts line up


def test_predict_a_text_gives_its_label_and_top_score(sms):
    text = "WINNER!! Claim your free prize now, call 09061701461"
    result = run_cli("predict", "--text", text, model_dir=sms.model_dir)
    assert (result.returncode, result.stderr) == (0, "")
    assert re.fullmatch(r"spam\t(0\.\d{4}|1\.0000)\n", result.stdout)

    prediction = json.loads(
        run_cli("predict", "--text", text, "--json", model_dir=sms.model_dir).stdout
    )
    assert (prediction["label"], prediction["model_id"]) == ("spam", sms.model_id)
    assert max(prediction["scores"], key=prediction["scores"].get) == "spam"
    assert set(prediction["scores"]) == {"ham", "spam"}


def test_predict_a_dataset_gives_a_line_per_text(sms, tmp_path):
    # JSON lines need no label column: predict reads only the texts.
    texts = ["Free entry to win a prize, text WIN now", "See you at lunch tomorrow", "ok"]
    dataset = write(
        tmp_path / "texts.jsonl", "".join(json.dumps({"text": t}) + "\n" for t in texts)
    )
    result = run_cli("predict", f"--dataset={dataset}", model_dir=sms.model_dir)
    assert (result.returncode, result.stderr) == (0, "")
    lines = result.stdout.splitlines()
    assert [line.split("\t")[0] for line in lines] == ["spam", "ham", "ham"]
    assert all(re.fullmatch(r"(spam|ham)\t\d\.\d{4}", line) for line in lines)

    result = run_cli("predict", f"--dataset={TURKISH}", "--json", model_dir=sms.model_dir)
    predictions = [json.loads(line) for line in result.stdout.splitlines()]
    assert [p["line"] for p in predictions] == list(range(2, 12))
    assert {p["model_id"] for p in predictions} == {sms.model_id}


def test_warmup_verifies_the_model_and_prints_its_record(sms):
    result = run_cli("warmup", model_dir=sms.model_dir)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines()[0] == (
        f"Model {sms.model_id} is ready: signature, checksums and scikit-learn version "
        "verified, one prediction made."
    )
    result = run_cli("--json", "warmup", "--model-id", sms.model_id, model_dir=sms.model_dir)
    assert json.loads(result.stdout) == ModelStore(sms.model_dir).read_manifest(sms.model_id)


def test_a_model_the_cli_trained_loads_in_the_model_store_like_a_workers(sms):
    store = ModelStore(sms.model_dir)
    loaded = store.load(sms.model_id)
    assert loaded.manifest == sms.manifest
    ((label, _),) = ml.predict(loaded.vectorizer, loaded.classifier, ["Claim your free prize"])
    assert label == "spam"
    assert store.active_id() == sms.model_id
    assert [manifest["model_id"] for manifest in store.list_manifests()] == [sms.model_id]


# errors and exit codes


def test_a_missing_dataset_exits_3(tmp_path):
    result = run_cli("train", "--dataset=missing.tsv", model_dir=tmp_path)
    assert (result.returncode, result.stdout) == (3, "")
    assert result.stderr == "error: cannot read missing.tsv: No such file or directory.\n"


def test_a_dataset_with_invalid_rows_exits_3_naming_each_line(tmp_path):
    dataset = write(
        tmp_path / "bad.tsv",
        "label\ttext\nham\tfine\nham\t   \n\tno label\nspam\ta\ttab\nspam\tfine too\n",
    )
    result = run_cli("train", f"--dataset={dataset}", model_dir=tmp_path / "models")
    assert (result.returncode, result.stdout) == (3, "")
    assert result.stderr == (
        f"error: {dataset}: 3 of 5 rows are invalid. Line 3, text: This field may not be "
        "blank. Line 4, label: This field may not be blank. Line 5: The row has 3 fields but "
        "the header names 2: a text cannot contain a tab in a TSV file. Fix them and run again.\n"
    )
    assert not (tmp_path / "models").exists()


def test_a_dataset_with_one_label_exits_3(tmp_path):
    dataset = write(tmp_path / "one.csv", "text,label\nyes,ok\nsure,ok\nfine,ok\n")
    result = run_cli("train", f"--dataset={dataset}", model_dir=tmp_path)
    assert (result.returncode, result.stdout) == (3, "")
    assert result.stderr == (
        f"error: {dataset}: Training needs at least two different labels in the data table; "
        "found only 'ok'.\n"
    )


def test_an_unknown_model_id_exits_4(sms):
    model_id = str(uuid.uuid4())
    result = run_cli("predict", "--text", "hello", "--model-id", model_id, model_dir=sms.model_dir)
    assert (result.returncode, result.stdout) == (4, "")
    assert result.stderr == f"error: Model {model_id} does not exist.\n"


def test_no_model_yet_exits_4(tmp_path):
    result = run_cli("evaluate", f"--dataset={TURKISH}", model_dir=tmp_path)
    assert (result.returncode, result.stdout) == (4, "")
    assert (
        result.stderr == f"error: No model has been trained yet in {tmp_path}: train one first.\n"
    )


@pytest.mark.parametrize(
    ("file", "tamper", "problem"),
    [
        (
            "manifest.json",
            lambda data: data.replace(b'"row_count": 10', b'"row_count": 11'),
            "manifest signature of {} does not match",
        ),
        (
            "model.pickle",
            lambda data: data + b"\0",
            "checksum of model.pickle of {} does not match",
        ),
    ],
)
def test_a_tampered_model_exits_5(turkish, tmp_path, file, tamper, problem):
    model_dir = shutil.copytree(turkish.model_dir, tmp_path / "models")
    path = model_dir / turkish.model_id / file
    path.write_bytes(tamper(path.read_bytes()))
    result = run_cli("warmup", model_dir=model_dir)
    assert (result.returncode, result.stdout) == (5, "")
    assert result.stderr == (
        f"error: the model failed its integrity checks: {problem.format(turkish.model_id)}.\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            (),
            "the following arguments are required: COMMAND "
            "(see python -m algorithm.tools.cli --help)",
        ),
        (
            ("warmup", "--model-id", "42"),
            "argument --model-id: model_id must be a UUID, got '42' "
            "(see python -m algorithm.tools.cli warmup --help)",
        ),
        (
            ("train", f"--dataset={TURKISH}", "--param", "depth=3"),
            "Unknown parameter 'depth' for algorithm 'linear_svm'; it accepts: C, ngram_max.",
        ),
    ],
)
def test_usage_errors_exit_2(tmp_path, args, message):
    result = run_cli(*args, model_dir=tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (2, "", f"error: {message}\n")


def test_the_console_script_works_from_any_directory(tmp_path):
    # The project is installed (editable) into the environment, so its commands do not need
    # the repository as the working directory.
    textclf = Path(sys.executable).parent / "textclf"
    dataset = REPO_ROOT / "tests" / "data" / "sms_spam.tsv"
    models = tmp_path / "models"
    trained = subprocess.run(
        [textclf, "--model-dir", models, "train", f"--dataset={dataset}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert trained.returncode == 0, trained.stderr
    predicted = subprocess.run(
        [textclf, "--model-dir", models, "--json", "predict", "--text", "WINNER! Claim a prize"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert predicted.returncode == 0, predicted.stderr
    assert json.loads(predicted.stdout)["label"] == "spam"
