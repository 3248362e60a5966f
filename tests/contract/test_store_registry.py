"""The Store contract for the registry (projects, immutable registered entities) and API tokens.

Each test runs once per backend (see conftest.py).
"""

from __future__ import annotations

from typing import Any

import pytest

from setpoint.errors import InputError, NotFoundError
from setpoint.ports import RegisteredEntity, Store, TokenRecord

from .test_store_catalog import HOSTILE


def entity(name: str = "train", version: str = "v1", **changes: Any) -> RegisteredEntity:
    fields: dict[str, Any] = {
        "kind": "workflow",
        "project": "proj",
        "name": name,
        "version": version,
        "digest": "d-" + version,
        "spec_digest": "s" * 64,
        "code_digest": "c" * 64,
        "body": {"interface": {"inputs": [["n", "int"]]}, "x": 1.5},
        "created_at": 100.0,
        **changes,
    }
    return RegisteredEntity(**fields)


def test_projects_are_created_once_and_listed_by_name(store: Store) -> None:
    assert store.list_projects() == []
    assert store.create_project("b", 1.0)
    assert store.create_project("a", 2.0)
    assert not store.create_project("a", 3.0)
    assert store.list_projects() == ["a", "b"]


def test_registration_is_immutable_and_idempotent(store: Store) -> None:
    first, created = store.register_entity(entity())
    assert created
    assert first.seq > 0
    assert (first.body, first.digest, first.spec_digest) == (entity().body, "d-v1", "s" * 64)
    again, created = store.register_entity(entity())
    assert not created
    assert again == first
    other, created = store.register_entity(entity(digest="different", body={"y": 2}))
    assert not created
    assert other == first  # the stored one stands; the caller sees the digests differ


def test_latest_is_the_most_recently_registered(store: Store) -> None:
    store.register_entity(entity(version="zzz"))
    store.register_entity(entity(version="aaa"))
    store.register_entity(entity(name="other", version="mmm"))
    assert store.get_entity("workflow", "proj", "train").version == "aaa"
    assert store.get_entity("workflow", "proj", "train", "zzz").version == "zzz"
    assert [e.version for e in store.list_entity_versions("workflow", "proj", "train")] == ["aaa", "zzz"]
    assert [e.version for e in store.list_entity_versions("workflow", "proj", "train", limit=1)] == ["aaa"]
    assert [(e.name, e.version) for e in store.list_entities("workflow", "proj")] == [
        ("other", "mmm"),
        ("train", "aaa"),
    ]


def test_kinds_and_projects_are_separate_namespaces(store: Store) -> None:
    store.register_entity(entity())
    store.register_entity(entity(kind="task", digest="t"))
    store.register_entity(entity(project="elsewhere", digest="e"))
    assert store.get_entity("task", "proj", "train", "v1").digest == "t"
    assert store.get_entity("workflow", "elsewhere", "train", "v1").digest == "e"
    assert store.list_entities("launchplan", "proj") == []
    with pytest.raises(NotFoundError, match="launch plan 'train' is not registered in project 'proj'"):
        store.get_entity("launchplan", "proj", "train")
    with pytest.raises(NotFoundError, match="workflow 'train' version 'v9' is not registered"):
        store.get_entity("workflow", "proj", "train", "v9")
    with pytest.raises(InputError, match="unknown entity kind"):
        store.get_entity("dataset", "proj", "train")


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_names_round_trip(store: Store, text: str) -> None:
    e = entity(name=text, version=text, project=text, body={"v": text})
    store.register_entity(e)
    got = store.get_entity("workflow", text, text, text)
    assert (got.name, got.version, got.project, got.body) == (text, text, text, {"v": text})
    assert store.create_project(text, 1.0)
    assert text in store.list_projects()


def test_tokens_are_found_by_hash(store: Store) -> None:
    assert store.get_token("h" * 64) is None
    token = TokenRecord("h" * 64, "proj", "editor", 5.0)
    store.put_token(token)
    assert store.get_token("h" * 64) == token
    with pytest.raises(InputError, match="unknown role"):
        store.put_token(TokenRecord("g" * 64, "proj", "owner", 5.0))
