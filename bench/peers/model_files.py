"""The project's model version, as both peers load and run it: no import of the project, whose
packages are not in the peers' environments.

The bench checks the version's signed manifest (ModelStore.load) before it starts a peer;
a peer unpickles the two files only once their checksums match that manifest.
"""

import hashlib
import json
import pathlib
import pickle

import numpy as np
import sklearn

MODEL_FILE = "model.pickle"
VECTORIZER_FILE = "vectorizer.pickle"


def load(version_dir: str) -> tuple:
    """(vectorizer, classifier) of the version folder MODEL_DIR/<model_id>."""
    folder = pathlib.Path(version_dir)
    checksums = json.loads((folder / "manifest.json").read_text())["files"]
    objects = {}
    for name in (VECTORIZER_FILE, MODEL_FILE):
        data = (folder / name).read_bytes()
        if hashlib.sha256(data).hexdigest() != checksums[name]:
            raise RuntimeError(f"checksum of {name} in {folder} does not match its manifest")
        objects[name] = pickle.loads(data)
    return objects[VECTORIZER_FILE], objects[MODEL_FILE]


def predict(vectorizer, classifier, texts: list[str]) -> tuple[list[str], list[str], np.ndarray]:
    """(labels, classes, scores) as algorithm.domain.ml.predict computes them: vectorizer.transform
    and predict_proba with the same per-call checks off, the label the arg-max."""
    with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
        scores = classifier.predict_proba(vectorizer.transform(texts))
    classes = [str(label) for label in classifier.classes_]
    return [classes[index] for index in np.argmax(scores, axis=1)], classes, scores
