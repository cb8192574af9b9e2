"""Hostile and careless input on every route: never a 5xx, never a half-written change.

Each unsafe route gets, as the role its guard lets in (anonymous for public routes):
missing fields, wrong types, huge numbers (beyond int64), negative money, unicode and NUL
bytes, malformed urlencoded and multipart bodies, non-JSON and wrong-shape JSON.  Every route
gets path parameters that are not integers or do not exist, malformed cookies and session ids,
unknown languages, and HX-Request.  Bodies over the limit get 413.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.params import Form
from fastapi.routing import iter_route_contexts

from app.core.security import SESSION_COOKIE, start_session
from app.cycles.models import Phase
from app.main import create_app
from tests.factories import districts_of, make_cycle, make_proposal, make_user
from tests.test_route_walk import required_roles

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
HUGE = str(2**70)
HOSTILE_VALUES = [
    "",
    "-1",
    "-100.50",
    HUGE,
    "-" + HUGE,
    "9" * 40,
    "1e400",
    "NaN",
    "abc",
    "²",  # (str.isdigit() says yes, int() refuses it)
    "٣",  # (a decimal digit int() reads as 3, but not an ASCII one)
    "１２",
    "\x00",
    "a\x00b",
    "漢字 🙂 \u202e\ufeff",
    "<script>alert(1)</script>",
    "x" * 5000,
]
MALFORMED = [
    ("application/x-www-form-urlencoded", b"%%%&&==&%ZZ=%\xff\xfe"),
    ("multipart/form-data", b"--x\r\nnot really"),
    ("multipart/form-data; boundary=x", b"--x\r\nContent-Disposition: bad\r\n\r\n"),
    ("multipart/form-data; boundary=x", b"garbage without boundary"),
    ("application/json", b"{not json"),
    ("application/json", b"[1, 2, 3]"),
    ("application/json", b"\xff\xfe\x00"),
    ("application/json", b'{"a": ' * 2000 + b"1" + b"}" * 2000),
    ("text/plain", b"hello"),
]
BAD_PATH_VALUES = ["abc", "-1", "0", HUGE, "1.5", "%00", "999999"]


def _routes() -> list[Any]:
    found = []
    for rc in iter_route_contexts(create_app().routes):
        if getattr(rc, "dependant", None) is None or not rc.methods:
            continue
        for method in sorted(rc.methods - {"HEAD"}):
            found.append((method, rc.path_format, rc))
    return found


ROUTES = _routes()
WRITE_ROUTES = [r for r in ROUTES if r[0] in UNSAFE]


def _form_fields(route: Any) -> list[str]:
    fields: list[str] = []

    def walk(dependant: Any) -> None:
        for param in dependant.body_params:
            if isinstance(param.field_info, Form):
                fields.append(param.alias)
        for sub in dependant.dependencies:
            walk(sub)

    walk(route.dependant)
    return fields


@pytest.fixture
def world(db_session) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    organizer = make_user(db_session, role="organizer")
    resident = make_user(db_session, role="resident")
    cycle = make_cycle(db_session, phase=Phase.intake)
    district = districts_of(db_session, cycle)[0]
    proposal = make_proposal(db_session, cycle=cycle, district=district, author=resident)
    params = {"cycle_id": cycle.id, "district_id": district.id, "proposal_id": proposal.id}
    return {"organizer": organizer, "resident": resident, "params": params}


def _url(path: str, params: dict[str, Any], override: str | None = None) -> str:
    def value(match: re.Match[str]) -> str:
        if override is not None:
            return override
        return str(params.get(match.group(1), 1))

    return re.sub(r"{(\w+)(:\w+)?}", value, path)


def _check(response: Any, where: str, path: str) -> None:
    assert response.status_code < 500, f"{where}: {response.status_code} {response.text[:300]}"
    if path.startswith("/api/") and response.status_code >= 400:
        assert "json" in response.headers.get("content-type", ""), where


def _log_in(client: Any, db_session: Any, settings: Any, user: Any) -> None:
    client.cookies.set(SESSION_COOKIE, start_session(db_session, user=user, settings=settings))


@pytest.mark.parametrize(
    ("method", "path", "route"), WRITE_ROUTES, ids=[f"{m} {p}" for m, p, _r in WRITE_ROUTES]
)
def test_hostile_bodies_never_5xx(  # type: ignore[no-untyped-def]
    client, db_session, settings, world, method, path, route
) -> None:
    url = _url(path, world["params"])
    fields = _form_fields(route) or ["title", "amount"]
    token = client.csrf_token()
    # As the role the route's guard lets in (anonymous for public routes), so that the
    # hostile values reach the handler and the services behind it.
    allowed = required_roles(route)
    for who in sorted(allowed & {"organizer", "resident"}) if allowed else ["anonymous"]:
        if who != "anonymous":
            _log_in(client, db_session, settings, world[who])
        plain = {"X-CSRF-Token": token}
        htmx = {**plain, "HX-Request": "true"}
        # Missing fields.
        for headers in (plain, htmx):
            r = client.request(method, url, csrf=False, headers=headers, data={})
            _check(r, f"{method} {url} empty form as {who} {headers}", path)
        # Every field gets the same hostile value (alternately as htmx), then repeated.
        for index, value in enumerate(HOSTILE_VALUES):
            headers = htmx if index % 2 else plain
            data = {field: value for field in fields}
            r = client.request(method, url, csrf=False, headers=headers, data=data)
            _check(r, f"{method} {url} all fields={value[:20]!r} as {who}", path)
        repeated = "&".join(f"{f}=1&{f}={HUGE}" for f in fields).encode()
        r = client.request(
            method,
            url,
            csrf=False,
            headers={**plain, "content-type": "application/x-www-form-urlencoded"},
            content=repeated,
        )
        _check(r, f"{method} {url} repeated fields as {who}", path)
        # Malformed bodies.
        for content_type, body in MALFORMED:
            r = client.request(
                method,
                url,
                csrf=False,
                headers={**plain, "content-type": content_type},
                content=body,
            )
            _check(r, f"{method} {url} {content_type} {body[:20]!r} as {who}", path)
        # JSON bodies of the right shape with hostile values.
        if path.startswith("/api/"):
            for value in [-1, 2**70, -(2**70), 1e308, "\x00", "漢字", None, [], {}, True]:
                body = {name: value for name in _json_fields(route)}
                r = client.request(method, url, csrf=False, headers=plain, json=body)
                _check(r, f"{method} {url} json={value!r} as {who}", path)


def _json_fields(route: Any) -> list[str]:
    names: list[str] = []
    for param in route.dependant.body_params:
        annotation = getattr(param.field_info, "annotation", None)
        model_fields = getattr(annotation, "model_fields", None)
        if model_fields:
            names.extend(model_fields)
        else:
            names.append(param.alias)
    return names or ["title"]


@pytest.mark.parametrize(
    ("method", "path", "route"), ROUTES, ids=[f"{m} {p}" for m, p, _r in ROUTES]
)
def test_bad_path_params_cookies_and_languages_never_5xx(  # type: ignore[no-untyped-def]
    client, db_session, settings, world, method, path, route
) -> None:
    token = client.csrf_token()
    _log_in(client, db_session, settings, world["organizer"])
    headers = {"X-CSRF-Token": token, "HX-Request": "true"}
    if "{" in path:
        for bad in BAD_PATH_VALUES:
            url = _url(path, world["params"], override=bad)
            r = client.request(method, url, csrf=False, headers=headers)
            _check(r, f"{method} {url}", path)
            assert r.status_code in (303, 401, 403, 404, 405, 409, 422), (url, r.status_code)
    url = _url(path, world["params"])
    queries = [p.alias for p in route.dependant.query_params]
    for value in HOSTILE_VALUES if queries else []:
        query = dict.fromkeys(queries, value)
        r = client.request(method, url, csrf=False, headers=headers, params=query)
        _check(r, f"{method} {url} query {queries}={value[:20]!r}", path)
    cookies = [
        "plaza_session=" + "A" * 5000,
        "plaza_session=\u00e9\u00e8; plaza_csrf=%%%",
        "plaza_session=; plaza_csrf=; plaza_lang=xx-YY",
        "plaza_lang=../../etc/passwd; plaza_csrf=" + "b" * 99,
        "garbage;;;==;",
    ]
    languages = ["xx", "zh", "zh-Hant-TW;q=nan, *;q=inf", "en;q=abc," * 50, "\u00ff"]
    for cookie, language in zip(cookies, languages, strict=True):
        r = client.request(
            method,
            url + "?lang=xx",
            csrf=False,
            headers={
                "X-CSRF-Token": token,
                # Raw latin-1 bytes, as a hostile client may send them.
                "cookie": cookie.encode("latin-1"),
                "accept-language": language.encode("latin-1"),
                "HX-Request": "true",
            },
        )
        _check(r, f"{method} {url} cookie={cookie[:30]!r} lang={language[:20]!r}", path)


@pytest.mark.parametrize("path", ["/login", "/api/session", "/cycles", "/vote/cast"])
def test_huge_bodies_get_413(client, login_as, settings, path) -> None:  # type: ignore[no-untyped-def]
    login_as("organizer")  # so that no guard refuses the request before its body is read
    token = client.csrf_token()
    big = b"x" * (settings.max_body_bytes + 1)
    headers = {"X-CSRF-Token": token, "content-type": "application/x-www-form-urlencoded"}
    r = client.post(path, csrf=False, headers=headers, content=b"csrf_token=" + big)
    assert r.status_code == 413, r.status_code

    def chunks() -> Any:  # no content-length: the limit must hold while streaming
        for _ in range(settings.max_body_bytes // 65536 + 2):
            yield b"y" * 65536

    r = client.post(path, csrf=False, headers=headers, content=chunks())
    assert r.status_code == 413, (r.status_code, r.text[:200])
    if path.startswith("/api/"):
        assert r.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("path", ["/login", "/vote/cast", "/cycles", "/api/ballots"])
def test_too_many_fields_or_parts_are_refused(client, login_as, path) -> None:  # type: ignore[no-untyped-def]
    """python-multipart's field and part limits end in a clear 4xx, not a crash."""
    login_as("organizer")
    token = client.csrf_token()
    many = "&".join(f"f{i}=1" for i in range(5000)) + f"&csrf_token={token}"
    r = client.post(
        path,
        csrf=False,
        headers={"content-type": "application/x-www-form-urlencoded"},
        content=many.encode(),
    )
    assert 400 <= r.status_code < 500, r.status_code
    parts = b"".join(
        b'--b\r\nContent-Disposition: form-data; name="f%d"\r\n\r\n1\r\n' % i for i in range(3000)
    )
    r = client.post(
        path,
        csrf=False,
        headers={"content-type": "multipart/form-data; boundary=b", "X-CSRF-Token": token},
        content=parts + b"--b--\r\n",
    )
    assert 400 <= r.status_code < 500, r.status_code
    upload = client.post(
        path,
        csrf=False,
        files={"csrf_token": ("t.txt", token.encode()), "code": ("c.txt", b"x" * 1000)},
    )
    assert upload.status_code == 403  # a file is not a token


@pytest.mark.parametrize("method", ["HEAD", "OPTIONS", "PROPFIND", "TRACE", "CONNECT"])
@pytest.mark.parametrize("path", ["/", "/vote", "/cycles/1", "/api/cycles", "/cycles/%F0%9F%99%82"])
def test_odd_methods_and_encoded_paths(client, method, path) -> None:  # type: ignore[no-untyped-def]
    r = client.request(method, path, csrf=False)
    assert r.status_code < 500 and r.status_code != 200 or method == "HEAD", (method, r.status_code)


@pytest.mark.parametrize("budget", [-1, 10**15 + 1, 2**63, 2**64, 10**40])
def test_money_beyond_the_limits_is_refused_and_nothing_is_written(  # type: ignore[no-untyped-def]
    client, db_session, login_as, budget
) -> None:
    from sqlalchemy import func, select

    from app.cycles.models import Cycle

    def cycles() -> int:
        return int(db_session.execute(select(func.count()).select_from(Cycle)).scalar_one())

    login_as("organizer")
    before = cycles()
    body = {
        "title": "Money test",
        "currency": "EUR",
        "districts": [{"name": "A", "budget_minor": 100}, {"name": "B", "budget_minor": budget}],
    }
    r = client.post("/api/cycles", json=body)
    assert r.status_code == 422, r.text[:300]
    assert r.headers["content-type"] == "application/problem+json"
    major = str(budget // 100) + ".00" if budget >= 0 else "-1.00"
    form = {
        "title": "Money test",
        "currency": "EUR",
        "district_name": "B",
        "district_budget": major,
    }
    r = client.post("/cycles", data=form)
    assert r.status_code == 422, r.status_code
    assert cycles() == before
    body["districts"][1]["budget_minor"] = 10**15  # the largest amount is fine
    assert client.post("/api/cycles", json=body).status_code == 201
