"""Walk EVERY route of the app with every role and anonymously.

The roles a route needs are read from its dependency tree (``require_role(...)`` guards carry
``.roles``; ``get_current_user`` means any signed-in account), so routes added later by any
domain are covered without touching this file.  For each route and caller the server must
answer as the guard says: anonymous on a protected page -> redirect to the login form (401
with ``HX-Redirect`` for htmx), on the API -> 401; a signed-in caller without the role ->
403; an allowed caller -> anything but 401/403; and never a 5xx.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.routing import iter_route_contexts

from app.core.security import SESSION_COOKIE, Role, get_current_user, start_session
from app.cycles.models import Phase
from app.main import create_app
from tests.factories import districts_of, make_cycle, make_proposal, make_user

ROLES: tuple[str | None, ...] = (None, "resident", "organizer", "auditor")


def _walk(dependant: Any) -> Iterator[Any]:
    for sub in getattr(dependant, "dependencies", []):
        yield sub.call
        yield from _walk(sub)


def required_roles(route: Any) -> frozenset[str] | None:
    """None: public; otherwise the roles allowed (all roles when any account will do)."""
    allowed: frozenset[str] | None = None
    for call in _walk(route.dependant):
        roles = getattr(call, "roles", None)
        if roles is not None:
            names = frozenset(str(r) for r in roles)
            allowed = names if allowed is None else allowed & names
        elif call is get_current_user and allowed is None:
            allowed = frozenset(r.value for r in Role)
    return allowed


def _routes() -> list[tuple[str, str, Any]]:
    found = []
    for rc in iter_route_contexts(create_app().routes):
        if getattr(rc, "dependant", None) is None or not rc.methods:
            continue
        for method in sorted(rc.methods - {"HEAD"}):
            found.append((method, rc.path_format, rc))
    return found


ROUTES = _routes()


def test_the_walk_sees_every_domain() -> None:
    paths = {path for _m, path, _r in ROUTES}
    assert {"/login", "/cycles/{cycle_id}", "/proposals/{proposal_id}/edit", "/api/cycles"} <= paths
    guarded = [r for _m, _p, r in ROUTES if required_roles(r)]
    assert len(guarded) >= 10


@pytest.fixture
def world(db_session) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    users = {role: make_user(db_session, role=role) for role in ROLES if role}
    cycle = make_cycle(db_session, phase=Phase.intake)
    district = districts_of(db_session, cycle)[0]
    proposal = make_proposal(db_session, cycle=cycle, district=district, author=users["resident"])
    params = {"cycle_id": cycle.id, "district_id": district.id, "proposal_id": proposal.id}
    return {"users": users, "params": params}


def _url(path: str, params: dict[str, Any]) -> str:
    return re.sub(r"{(\w+)(:\w+)?}", lambda m: str(params.get(m.group(1), 1)), path)


@pytest.mark.parametrize(
    ("method", "path", "route"), ROUTES, ids=[f"{m} {p}" for m, p, _r in ROUTES]
)
def test_every_route_answers_each_role_as_its_guard_says(  # type: ignore[no-untyped-def]
    client, db_session, settings, world, method, path, route
) -> None:
    allowed = required_roles(route)
    url = _url(path, world["params"])
    is_api = path.startswith("/api/")
    for role in ROLES:
        client.cookies.pop(SESSION_COOKIE, None)
        if role:
            token = start_session(db_session, user=world["users"][role], settings=settings)
            client.cookies.set(SESSION_COOKIE, token)
        for headers in ({}, {"HX-Request": "true"}):
            kwargs: dict[str, Any] = {"headers": dict(headers)}
            if method in ("POST", "PUT", "PATCH", "DELETE"):
                kwargs["headers"]["X-CSRF-Token"] = client.csrf_token()
            response = client.request(method, url, csrf=False, **kwargs)
            where = f"{method} {url} as {role or 'anonymous'} {headers}"
            assert response.status_code < 500, where
            if allowed is None:
                continue
            if role is None:
                if is_api:
                    assert response.status_code == 401, where
                elif headers:
                    assert response.status_code == 401, where
                    assert response.headers["HX-Redirect"].startswith("/login?next="), where
                else:
                    assert response.status_code == 303, where
                    assert response.headers["location"].startswith("/login?next="), where
            elif role not in allowed:
                assert response.status_code == 403, where
            else:
                assert response.status_code not in (401, 403), where


def test_auditors_are_read_only() -> None:
    """No guarded route that changes anything admits the auditor role."""
    writes = [
        f"{method} {path}"
        for method, path, route in ROUTES
        if method in ("POST", "PUT", "PATCH", "DELETE")
        and (required_roles(route) or frozenset()) & {"auditor"}
    ]
    assert writes == []


def test_logged_out_user_has_no_personal_data_in_the_api(client, db_session) -> None:  # type: ignore[no-untyped-def]
    """The public API never returns e-mail addresses or author ids."""
    import json

    resident = make_user(db_session, email="private.person@example.org")
    cycle = make_cycle(db_session, phase=Phase.voting)
    make_proposal(db_session, cycle=cycle, author=resident, status="accepted")
    for url in ("/api/cycles", f"/api/cycles/{cycle.id}", f"/api/cycles/{cycle.id}/proposals"):
        text = json.dumps(client.get(url).json())
        assert "private.person" not in text
        assert "author" not in text


@pytest.mark.parametrize("value", ["99999999999999999999", "2147483648", "-1", "0", "x%00"])
def test_odd_ids_in_urls_are_never_a_server_error(client, login_as, value) -> None:  # type: ignore[no-untyped-def]
    for role in ("organizer", "resident"):
        login_as(role)
        for method, path, _route in ROUTES:
            if "{" not in path:
                continue
            url = re.sub(r"{(\w+)(:\w+)?}", value, path)
            response = client.request(
                method, url, headers={"X-CSRF-Token": client.csrf_token()}, csrf=False
            )
            assert response.status_code < 500, f"{method} {url} as {role}"
            assert response.status_code in (303, 400, 403, 404, 405, 422), f"{method} {url}"


JUNK_FORMS: tuple[dict[str, str], ...] = (
    {"title": "💥" * 300, "description": "x" * 20_000, "name": " ", "budget": "1e9999"},
    {"phase": "voting'; DROP TABLE cycle; --", "decision": "accept", "final_cost": "-0"},
    {"district_id": "-5", "estimated_cost": "NaN", "code": "ZZZZ" * 20, "count": "10000000"},
    {"email": "@", "password": "", "lang": "xx", "next": "//evil.example"},
)
JUNK_JSON: tuple[Any, ...] = ([1, 2, 3], {"title": None, "districts": "many"}, "text", 12)


def test_junk_bodies_are_never_a_server_error(client, login_as, db_session) -> None:  # type: ignore[no-untyped-def]
    cycle = make_cycle(db_session, phase=Phase.intake)
    district = districts_of(db_session, cycle)[0]
    params = {"cycle_id": cycle.id, "district_id": district.id}
    for role in ("organizer", "resident"):
        user = login_as(role)
        params["proposal_id"] = make_proposal(
            db_session, cycle=cycle, district=district, author=user
        ).id
        for method, path, _route in ROUTES:
            if method not in ("POST", "PUT", "PATCH", "DELETE"):
                continue
            url = _url(path, params)
            for form in JUNK_FORMS:
                login_as(user)  # a junk post to /logout must not hide the other routes
                response = client.request(method, url, data=form)
                assert response.status_code < 500, f"{method} {url} {form}"
                assert response.status_code not in (
                    401,
                    303,
                ) or "/login" not in response.headers.get("location", ""), f"{method} {url} {form}"
            for body in JUNK_JSON:
                login_as(user)
                response = client.request(method, url, json=body)
                assert response.status_code < 500, f"{method} {url} {body}"
