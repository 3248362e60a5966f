"""A small, real ML pipeline: load a dataset that ships with scikit-learn, split it, train several
models in parallel, evaluate each on held-out data, and pick the best.

Run it through setpoint (embedded store, local processes):

    setpoint run examples/ml_pipeline.py:pipeline --dataset digits --seed 7

or call it directly for a quick in-process check: ``python examples/ml_pipeline.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import joblib
from sklearn import datasets
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from setpoint import File, task, workflow

# Heavy imports at module level: the local executor's warm worker imports this module once and
# forks every attempt from it, so each task starts with scikit-learn already loaded.

MODELS = ("logistic_regression", "random_forest", "svm", "knn")


@dataclass
class Dataset:
    name: str
    features: list[list[float]]
    labels: list[int]


@dataclass
class Split:
    x_train: list[list[float]]
    y_train: list[int]
    x_test: list[list[float]]
    y_test: list[int]


@dataclass
class TrainedModel:
    kind: str
    artifact: File  # the fitted estimator, saved with joblib
    train_accuracy: float


@dataclass
class Score:
    kind: str
    accuracy: float
    macro_f1: float


@task(retries=2, timeout=timedelta(minutes=5))
def load(dataset: str = "digits") -> Dataset:
    """Load one of scikit-learn's bundled datasets (no download)."""
    loaders = {"digits": datasets.load_digits, "wine": datasets.load_wine, "iris": datasets.load_iris,
               "breast_cancer": datasets.load_breast_cancer}
    if dataset not in loaders:
        raise ValueError(f"unknown dataset {dataset!r}; choose one of {sorted(loaders)}")
    bunch = loaders[dataset]()
    return Dataset(dataset, bunch.data.tolist(), [int(y) for y in bunch.target])


@task
def split(data: Dataset, test_size: float = 0.25, seed: int = 0) -> Split:
    x_tr, x_te, y_tr, y_te = train_test_split(
        data.features, data.labels, test_size=test_size, random_state=seed, stratify=data.labels
    )
    return Split(x_tr, y_tr, x_te, y_te)


@task(retries=1, timeout=timedelta(minutes=10))
def train(data: Split, kind: str, seed: int = 0) -> TrainedModel:
    estimators = {
        "logistic_regression": lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)),
        "random_forest": lambda: RandomForestClassifier(n_estimators=200, random_state=seed),
        "svm": lambda: make_pipeline(StandardScaler(), SVC(C=3.0)),
        "knn": lambda: make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=5)),
    }
    model = estimators[kind]()
    model.fit(data.x_train, data.y_train)
    path = Path(f"{kind}.joblib")
    joblib.dump(model, path)
    print(f"trained {kind} on {len(data.y_train)} rows")
    return TrainedModel(kind, File(path), float(model.score(data.x_train, data.y_train)))


@task
def evaluate(data: Split, model: TrainedModel) -> Score:
    estimator = joblib.load(model.artifact.path)
    predicted = estimator.predict(data.x_test)
    return Score(
        model.kind,
        float(accuracy_score(data.y_test, predicted)),
        float(f1_score(data.y_test, predicted, average="macro")),
    )


@task
def pick_best(scores: list[Score]) -> Score:
    best = max(scores, key=lambda s: (s.accuracy, s.macro_f1))
    for s in sorted(scores, key=lambda s: -s.accuracy):
        print(f"{s.kind:<22} accuracy={s.accuracy:.4f} macro_f1={s.macro_f1:.4f}")
    return best


@workflow
def pipeline(dataset: str = "digits", seed: int = 0) -> Score:
    data = load(dataset=dataset)
    parts = split(data=data, seed=seed)
    scores = [evaluate(data=parts, model=train(data=parts, kind=kind, seed=seed)) for kind in MODELS]
    return pick_best(scores=scores)


if __name__ == "__main__":
    print(pipeline(dataset="wine"))
