"""Decks: a task publishes an HTML report next to its outputs.

setpoint run examples/flyte/decks.py:profile --values '[3, 1, 4, 1, 5, 9, 2, 6]'
setpoint deck <execution> summarize      # prints the path of the page
"""

from __future__ import annotations

from setpoint.flytekit import Deck, current_context, task, workflow


@task(enable_deck=True)
def summarize(values: list[float]) -> float:
    mean = sum(values) / len(values)
    rows = "".join(f"<tr><td>{i}</td><td>{v}</td></tr>" for i, v in enumerate(values))
    Deck("data", f"<table><tr><th>#</th><th>value</th></tr>{rows}</table>")
    current_context().default_deck.append(f"<p>mean = {mean:.3f} over {len(values)} values</p>")
    return mean


@workflow
def profile(values: list[float]) -> float:
    return summarize(values=values)
