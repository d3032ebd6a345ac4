"""Unknown query parameters are a 422 naming the valid ones, not silently ignored.

`?format=csv` on a route without it, or `?seris=AAPL`, used to answer as if it were absent: a
user could not tell a typo from a filter that matched everything. Every API route gets this as a
router dependency; it compares the request's query keys with the query parameters the route
(and its dependencies) declare.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel

from forecaster.errors import InvalidRequest, echo


def _query_names(dependant: Dependant) -> set[str]:
    """The query parameters a dependant and its sub-dependencies declare (a pydantic model
    declared as the query contributes its fields)."""
    names: set[str] = set()
    for field in dependant.query_params:
        annotation = field.field_info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names |= {f.alias or name for name, f in annotation.model_fields.items()}
        else:
            names.add(field.alias)
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


_KNOWN: dict[int, frozenset[str]] = {}  # by id(route): routes live as long as the app


def _known(route: APIRoute) -> frozenset[str]:
    known = _KNOWN.get(id(route))
    if known is None:
        known = _KNOWN[id(route)] = frozenset(_query_names(route.dependant))
    return known


def forbid_unknown_query(request: Request) -> None:
    """Raise InvalidRequest (422) when the query names a parameter the route does not take."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    known = _known(route)
    unknown = sorted(k for k in request.query_params if k not in known)
    if not unknown:
        return
    names = ", ".join(echo(k) for k in unknown[:5])
    valid = ", ".join(sorted(known)) or "none"
    noun = "parameter" if len(unknown) == 1 else "parameters"
    raise InvalidRequest(
        f"unknown query {noun} {names} for {request.method} {request.url.path}; valid: {valid}"
    )
