"""The embedded and remote clients implement one contract (`setpoint.client.contract`), pinned here.

Both clients must have every method of `ClientContract` with the same parameters (names, kinds,
defaults and annotations); a client may add only keyword-only parameters with defaults (a poll
interval the embedded client has and a server does not need). The method list itself is pinned,
like the public export list, so growing the contract is a deliberate edit.
"""

from __future__ import annotations

import inspect

import pytest

from setpoint.client.contract import CONTRACT_METHODS, ClientContract
from setpoint.client.embedded import Client
from setpoint.client.remote import RemoteClient


def _protocol_methods() -> list[str]:
    return [n for n, v in vars(ClientContract).items() if callable(v) and not n.startswith("_")]


def test_the_contract_list_is_pinned() -> None:
    assert tuple(_protocol_methods()) == CONTRACT_METHODS


@pytest.mark.parametrize("client", [Client, RemoteClient], ids=lambda c: c.__name__)
@pytest.mark.parametrize("name", CONTRACT_METHODS)
def test_both_clients_implement_the_method_with_its_parameters(client: type, name: str) -> None:
    wanted = inspect.signature(getattr(ClientContract, name))
    got = inspect.signature(getattr(client, name))
    params = dict(got.parameters)
    for p in wanted.parameters.values():
        assert p.name in params, f"{client.__name__}.{name} lacks parameter {p.name!r}"
        q = params.pop(p.name)
        assert (q.kind, q.default, str(q.annotation)) == (p.kind, p.default, str(p.annotation)), (
            f"{client.__name__}.{name}({p.name}) differs from the contract"
        )
    extra = [p for p in params.values() if not (p.kind is p.KEYWORD_ONLY and p.default is not p.empty)]
    assert not extra, f"{client.__name__}.{name} has parameters outside the contract: {extra}"


def test_both_clients_satisfy_the_protocol_statically() -> None:
    # mypy checks these assignments (tests are type-checked): a drifted signature is a type error.
    def embedded(c: Client) -> ClientContract:
        return c

    def remote(c: RemoteClient) -> ClientContract:
        return c

    assert callable(embedded) and callable(remote)
