"""Caching: an expensive feature extraction is computed once per (input, cache_version).

    setpoint run examples/flyte/caching.py:featurize --texts '["the cat sat", "a dog ran far"]'

Run it twice: the second run takes `extract` from the catalog (`setpoint describe` shows the hit).
"""

from __future__ import annotations

from setpoint.flytekit import task, workflow


@task(cache=True, cache_version="1.0")
def extract(texts: list[str]) -> list[dict[str, float]]:
    """Bag-of-words style features: length, word count and mean word length."""
    rows = []
    for text in texts:
        words = text.split()
        rows.append(
            {
                "chars": float(len(text)),
                "words": float(len(words)),
                "mean_word": round(sum(len(w) for w in words) / len(words), 3),
            }
        )
    return rows


@task
def summarize(rows: list[dict[str, float]]) -> float:
    return sum(r["words"] for r in rows) / len(rows)


@workflow
def featurize(texts: list[str]) -> float:
    return summarize(rows=extract(texts=texts))
