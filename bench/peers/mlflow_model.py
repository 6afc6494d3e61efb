"""MLflow's pyfunc on the project's model version, as `mlflow models serve` loads it (a model
from code): POST /invocations {"inputs": [text, ...]} answers
{"predictions": [{"label": ..., "scores": {...}}, ...]}.

The version folder comes from the model's config ("version_dir"); the files are unpickled
once their checksums match its manifest (model_files.load), once per worker process.
"""

import mlflow
import model_files
import numpy as np
import pandas as pd


class TextClassifier(mlflow.pyfunc.PythonModel):
    def load_context(self, context) -> None:
        self.vectorizer, self.classifier = model_files.load(context.model_config["version_dir"])

    def predict(self, context, model_input, params=None) -> list[dict]:
        # The scoring server hands "inputs" over as a list or an array, a "dataframe_*"
        # body as a frame: the texts are its first column.
        if isinstance(model_input, pd.DataFrame):
            model_input = model_input.iloc[:, 0]
        texts = [str(text) for text in np.asarray(model_input).ravel()]
        labels, classes, scores = model_files.predict(self.vectorizer, self.classifier, texts)
        return [
            {"label": label, "scores": dict(zip(classes, row.tolist(), strict=True))}
            for label, row in zip(labels, scores, strict=True)
        ]


mlflow.models.set_model(TextClassifier())
