"""Copies of model records written out field by field (replace()'s introspection cost more than
the work, once per server) carry every other field over."""

from __future__ import annotations

import dataclasses

from auditor.model import ServerEndpoint


def test_an_attributed_endpoint_is_replace_of_its_platform_basis_and_roles() -> None:
    # Distinct values in every field, so that a field dropped or two swapped show.
    values = {f.name: f"field-{n}" for n, f in enumerate(dataclasses.fields(ServerEndpoint))}
    endpoint = ServerEndpoint(**values)  # type: ignore[arg-type]
    got = endpoint.attributed("Zoom", None, ())
    assert got == dataclasses.replace(endpoint, platform="Zoom", platform_basis=None, roles=())
    assert endpoint.platform == values["platform"]  # the original is left as it was
