"""Decks: HTML reports a task writes while it runs, rendered to one page per attempt.

A task declared with ``enable_deck=True`` gets its decks rendered when the attempt ends (whether
it succeeded or raised) into ``deck.html`` in the attempt's folder, where ``setpoint deck
<execution> <node>`` finds it. A `Deck` adds itself to the running task's context when created;
``current_context().default_deck`` is the deck named "default". The HTML a task appends is its
own: setpoint escapes the names it adds (deck names, input and output values), never the body.
"""

from __future__ import annotations

import html as _html
import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

DECK_FILE = "deck.html"
_VALUE_LIMIT = 64 * 1024  # characters of an input or output literal shown before it is cut
# Where a new deck goes: `setpoint.sdk.current` adds "the running task's context" when imported
# (it imports this module, so this one cannot import it back).
_SINKS: list[Callable[[Deck], None]] = []


class Deck:
    """A named HTML section of a task's report: ``Deck("plots", html)``, ``deck.append(more)``."""

    def __init__(self, name: str, html: str = "", *, auto_add_to_deck: bool = True) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"a deck's name must be a non-empty string, got {name!r}")
        self.name = name
        self._parts: list[str] = [str(html)] if html else []
        if auto_add_to_deck:
            for sink in _SINKS:
                sink(self)

    def append(self, html: str) -> Deck:
        """Add ``html`` at the end of this deck; returns the deck, so calls chain."""
        self._parts.append(str(html))
        return self

    @property
    def html(self) -> str:
        return "".join(self._parts)

    def __repr__(self) -> str:
        return f"<Deck {self.name!r}: {len(self.html)} characters>"


def literal_table(title: str, values: Mapping[str, Any]) -> Deck:
    """A deck showing literals (a task's inputs or outputs) as escaped JSON, long values cut."""
    rows = []
    for name, value in values.items():
        text = json.dumps(value, indent=1, ensure_ascii=False, default=str)
        if len(text) > _VALUE_LIMIT:
            text = text[:_VALUE_LIMIT] + f"\n... ({len(text) - _VALUE_LIMIT} more characters)"
        rows.append(f"<tr><th>{_html.escape(name)}</th><td><pre>{_html.escape(text)}</pre></td></tr>")
    body = f"<table>{''.join(rows)}</table>" if rows else "<p>none</p>"
    return Deck(title, body, auto_add_to_deck=False)


def render_page(title: str, decks: Iterable[Deck]) -> str:
    """One self-contained HTML page: a link bar, then each deck under its name, in order."""
    decks = list(decks)
    ids = [f"deck-{i}" for i in range(len(decks))]
    nav = " | ".join(f'<a href="#{i}">{_html.escape(d.name)}</a>' for i, d in zip(ids, decks, strict=True))
    sections = "\n".join(
        f'<section id="{i}"><h2>{_html.escape(d.name)}</h2>\n{d.html}\n</section>'
        for i, d in zip(ids, decks, strict=True)
    )
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{_html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;margin:1.5em}section{margin-top:2em}"
        "th{text-align:left;vertical-align:top;padding-right:1em}pre{margin:0;white-space:pre-wrap}</style>"
        f"</head><body><h1>{_html.escape(title)}</h1><nav>{nav}</nav>\n{sections}\n</body></html>\n"
    )
