"""What the command line prints: scores, per-label tables, the confusion matrix, a line per
prediction, or one JSON document."""

import json
from typing import Any

from algorithm.domain.records import ConfusionMatrix, Scores
from algorithm.tools.local_classifier import LocalPrediction


def summary(metrics: Scores) -> str:
    return f"accuracy {metrics['accuracy']:.4f}, macro F1 {metrics['macro_f1']:.4f}"


def print_per_label(metrics: Scores) -> None:
    width = max(len(label) for label in metrics["per_label"])
    for label, scores in metrics["per_label"].items():
        print(
            f"  {label:<{width}}  precision {scores['precision']:.4f}  recall "
            f"{scores['recall']:.4f}  F1 {scores['f1']:.4f}  support {scores['support']}"
        )


def print_confusion_matrix(matrix: ConfusionMatrix) -> None:
    labels, rows = matrix["labels"], matrix["rows"]
    print("Confusion matrix (a row per true label, a column per predicted label):")
    name_width = max(len(label) for label in labels)
    count_width = max(len(str(count)) for row in rows for count in row)
    widths = [max(len(label), count_width) for label in labels]
    print(
        " " * (name_width + 4)
        + "  ".join(f"{lb:>{w}}" for lb, w in zip(labels, widths, strict=True))
    )
    for label, row in zip(labels, rows, strict=True):
        cells = "  ".join(f"{count:>{w}}" for count, w in zip(row, widths, strict=True))
        print(f"  {label:<{name_width}}  {cells}")


def prediction_line(prediction: LocalPrediction) -> str:
    return f"{prediction['label']}\t{prediction['scores'][prediction['label']]:.4f}"


def print_json(document: Any) -> None:
    print(json.dumps(document, ensure_ascii=False))
