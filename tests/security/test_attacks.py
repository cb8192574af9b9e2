"""What an attacker tries first, on SQLite and PostgreSQL.

CSRF on every unsafe route (forged, missing, another client's token), the route walk really
covering every route, session fixation and server-side logout, cookie flags in production,
access codes at rest, a code of one district used on another, personal data leaking to
auditors or anonymous visitors, and what a stored ballot row can be joined with.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Any

import pytest
from bs4 import BeautifulSoup
from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlalchemy import inspect, text
from sqlmodel import Session

from app.core.config import Settings
from app.core.db import get_session
from app.core.security import CSRF_COOKIE, SESSION_COOKIE, Role, User
from app.cycles.models import Phase
from app.eligibility import service as eligibility_service
from app.eligibility.codes import code_hash, format_code
from app.main import create_app
from app.proposals.models import ProposalStatus
from tests.conftest import PlazaClient
from tests.factories import PASSWORD, districts_of, make_cycle, make_proposal, make_user
from tests.test_route_walk import ROUTES, required_roles

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
WRITE_ROUTES = [r for r in ROUTES if r[0] in UNSAFE]

# Routes anyone may call.  A new route is guarded unless it is added here on purpose.
PUBLIC = {
    ("GET", "/"),
    ("GET", "/healthz"),
    ("GET", "/login"),
    ("POST", "/login"),
    ("GET", "/signup"),
    ("POST", "/signup"),
    ("POST", "/logout"),
    ("POST", "/language"),
    ("GET", "/api/session"),
    ("POST", "/api/session"),
    ("DELETE", "/api/session"),
    ("POST", "/api/accounts"),
    ("GET", "/cycles"),
    ("GET", "/cycles/{cycle_id}"),
    ("GET", "/api/cycles"),
    ("GET", "/api/cycles/{cycle_id}"),
    ("GET", "/cycles/{cycle_id}/proposals"),
    ("GET", "/proposals/{proposal_id}"),
    ("GET", "/api/cycles/{cycle_id}/proposals"),
    ("GET", "/api/cycles/{cycle_id}/projects"),
    ("GET", "/api/proposals/{proposal_id}"),
    ("GET", "/cycles/{cycle_id}/results"),
    ("GET", "/api/cycles/{cycle_id}/results"),
    # Voting needs no account: the access code is the credential.
    ("GET", "/vote"),
    ("POST", "/vote/ballot"),
    ("POST", "/vote/cast"),
    ("GET", "/vote/done/{receipt}"),
    ("POST", "/api/ballots/open"),
    ("POST", "/api/ballots"),
}


def table_counts(session: Session) -> dict[str, int]:
    names = inspect(session.connection()).get_table_names()
    return {
        name: int(session.execute(text(f'SELECT count(*) FROM "{name}"')).scalar_one())
        for name in names
        if name != "alembic_version"
    }


@pytest.fixture
def world(db_session: Session) -> dict[str, Any]:
    users = {role: make_user(db_session, role=role) for role in Role}
    cycle = make_cycle(db_session, phase=Phase.intake)
    district = districts_of(db_session, cycle)[0]
    proposal = make_proposal(
        db_session, cycle=cycle, district=district, author=users[Role.resident]
    )
    params = {"cycle_id": cycle.id, "district_id": district.id, "proposal_id": proposal.id}
    return {"users": users, "params": params}


def _url(path: str, params: dict[str, Any]) -> str:
    return re.sub(r"{(\w+)(:\w+)?}", lambda m: str(params.get(m.group(1), 1)), path)


# --- route walk and CSRF ---------------------------------------------------------------------


def test_the_route_walk_covers_every_route_and_method() -> None:
    app = create_app()
    walked = {(method, path) for method, path, _route in ROUTES}
    for route in app.routes:
        if isinstance(route, APIRoute):
            for method in route.methods - {"HEAD"}:
                assert (method, route.path_format) in walked, (method, route.path_format)
    assert len(walked) == len(ROUTES)


def test_only_the_listed_routes_are_public() -> None:
    """A route without a role guard is public; that must be a decision, not an accident."""
    public = {(method, path) for method, path, route in ROUTES if required_roles(route) is None}
    assert public <= PUBLIC, sorted(public - PUBLIC)


@pytest.mark.parametrize(
    ("method", "path", "route"), WRITE_ROUTES, ids=[f"{m} {p}" for m, p, _r in WRITE_ROUTES]
)
def test_every_unsafe_route_refuses_a_missing_or_forged_csrf_token(  # type: ignore[no-untyped-def]
    client, db_session, settings, login_as, world, method, path, route
) -> None:
    """Signed in with every role the route allows: no valid token, no effect (403)."""
    allowed = required_roles(route) or {"organizer"}
    url = _url(path, world["params"])
    before_login = client.csrf_token()  # valid for this browser, but not for its next session
    seed = client.cookies.get(CSRF_COOKIE)
    other = PlazaClient(client.app)
    foreign_token = other.csrf_token()  # valid, but for another browser's cookie
    forged = hmac.new(b"guessed key", b"csrf:" + seed.encode(), hashlib.sha256).hexdigest()
    for role in sorted(allowed):
        login_as(world["users"][Role(role)])
        own_token = client.csrf_token()
        assert own_token != before_login
        before = table_counts(db_session)
        attempts: list[dict[str, Any]] = [
            {},
            {"headers": {"X-CSRF-Token": before_login}},
            {"data": {"csrf_token": before_login, "title": "x"}},
            {"headers": {"X-CSRF-Token": ""}},
            {"headers": {"X-CSRF-Token": foreign_token}},
            {"headers": {"X-CSRF-Token": forged}},
            {"headers": {"X-CSRF-Token": own_token[:-1]}},
            {"data": {"csrf_token": foreign_token, "title": "x"}},
            {"data": {"csrf_token": own_token.upper(), "title": "x"}},
            {"json": {"csrf_token": own_token}},
            {
                "content": b"csrf_token=" + own_token.encode(),
                "headers": {"content-type": "text/plain"},
            },
        ]
        for attempt in attempts:
            for htmx in ({}, {"HX-Request": "true"}):
                kwargs = dict(attempt)
                kwargs["headers"] = {**attempt.get("headers", {}), **htmx}
                response = client.request(method, url, csrf=False, **kwargs)
                where = f"{method} {url} as {role} with {attempt} {htmx}"
                assert response.status_code == 403, (where, response.status_code)
                if path.startswith("/api/"):
                    assert response.json()["type"] == "/problems/csrf", where
        assert table_counts(db_session) == before, f"{method} {url} wrote without a token"
        # The same request with the client's own token gets past the CSRF check.
        response = client.request(method, url, csrf=False, headers={"X-CSRF-Token": own_token})
        assert response.status_code != 403 or "csrf" not in response.text.lower(), url


# --- sessions and cookies --------------------------------------------------------------------


def _log_in_with_form(client: PlazaClient, user: User) -> Any:
    return client.post("/login", data={"email": user.email, "password": PASSWORD})


def test_login_ignores_a_planted_session_id(client, db_session, world) -> None:  # type: ignore[no-untyped-def]
    planted = "attacker-chosen-session-id-0123456789abcdef"
    client.cookies.set(SESSION_COOKIE, planted)
    response = _log_in_with_form(client, world["users"][Role.organizer])
    assert response.status_code == 303
    issued = response.cookies.get(SESSION_COOKIE)
    assert issued and issued != planted
    attacker = PlazaClient(client.app)
    attacker.cookies.set(SESSION_COOKIE, planted)
    assert attacker.get("/api/session").json()["user"] is None
    # The stored id is a hash of the cookie, never the cookie itself.
    rows = db_session.execute(text("SELECT id FROM user_session")).scalars().all()
    assert issued not in rows
    assert hashlib.sha256(issued.encode()).hexdigest() in rows


@pytest.mark.parametrize("how", ["form", "api"])
def test_logout_revokes_the_session_on_the_server(client, db_session, world, how) -> None:  # type: ignore[no-untyped-def]
    user = world["users"][Role.organizer]
    token = _log_in_with_form(client, user).cookies[SESSION_COOKIE]
    assert client.get("/cycles/new").status_code == 200
    response = client.post("/logout") if how == "form" else client.delete("/api/session")
    assert response.status_code in (303, 204)
    # A copy of the cookie kept by an attacker is worthless now.
    thief = PlazaClient(client.app, follow_redirects=False)
    thief.cookies.set(SESSION_COOKIE, token)
    assert thief.get("/cycles/new").status_code == 303
    assert thief.get("/api/session").json()["user"] is None
    count = db_session.execute(
        text("SELECT count(*) FROM user_session WHERE user_id = :id"), {"id": user.id}
    ).scalar_one()
    assert count == 0


@pytest.fixture
def production_client(db_session: Session, settings: Settings) -> Any:
    production = Settings(
        environment="production",
        secret_key="production-secret-key-0123456789abcdef",  # type: ignore[arg-type]
        access_code_key="production-code-key-0123456789abcdef",  # type: ignore[arg-type]
        voter_key="production-voter-key-0123456789abcdef",  # type: ignore[arg-type]
        database_url=settings.database_url,
        argon2_time_cost=1,
        argon2_memory_cost_kib=8,
        argon2_parallelism=1,
    )
    app: FastAPI = create_app(production)

    def session_for_test() -> Any:
        db_session.commit()
        try:
            yield db_session
        except BaseException:
            db_session.rollback()
            raise
        db_session.commit()

    app.dependency_overrides[get_session] = session_for_test
    with PlazaClient(app, base_url="https://testserver", follow_redirects=False) as c:
        yield c


def _set_cookies(response: Any) -> dict[str, str]:
    cookies: dict[str, str] = {}
    for header in response.headers.get_list("set-cookie"):
        cookies[header.split("=", 1)[0]] = header.lower()
    return cookies


def test_cookies_are_secure_httponly_samesite_in_production(production_client, world) -> None:  # type: ignore[no-untyped-def]
    first = production_client.get("/")
    csrf = _set_cookies(first)[CSRF_COOKIE]
    user = world["users"][Role.organizer]
    login = _log_in_with_form(production_client, user)
    assert login.status_code == 303, login.text[:300]
    language = production_client.post("/language", data={"lang": "zh_Hans", "next": "/"})
    logout = production_client.post("/logout")
    cookies = [
        csrf,
        _set_cookies(login)[SESSION_COOKIE],
        _set_cookies(language)["plaza_lang"],
        _set_cookies(logout)[SESSION_COOKIE],
    ]
    for cookie in cookies:
        assert "; secure" in cookie, cookie
        assert "; httponly" in cookie, cookie
        assert "samesite=lax" in cookie or "samesite=strict" in cookie, cookie


# --- passwords and access codes at rest ------------------------------------------------------


def test_signup_stores_an_argon2id_hash(client, db_session, settings) -> None:  # type: ignore[no-untyped-def]
    password = "a fresh password for the test"
    response = client.post(
        "/signup",
        data={"email": "new@example.org", "password": password, "display_name": "New"},
    )
    assert response.status_code == 303, response.text[:300]
    stored = db_session.execute(
        text("SELECT password_hash FROM user_account WHERE email = 'new@example.org'")
    ).scalar_one()
    assert stored.startswith("$argon2id$v=19$")
    m, t, p = (settings.argon2_memory_cost_kib, settings.argon2_time_cost, 1)
    assert f"$m={m},t={t},p=" in stored
    assert password not in stored and p


def _all_text(session: Session) -> str:
    parts: list[str] = []
    for name in inspect(session.connection()).get_table_names():
        for row in session.execute(text(f'SELECT * FROM "{name}"')).all():
            parts.extend(str(value) for value in row)
    return "\n".join(parts)


def test_issued_codes_exist_in_the_database_only_as_hmac(  # type: ignore[no-untyped-def]
    client, db_session, settings, login_as
) -> None:
    login_as("organizer")
    cycle = make_cycle(db_session, phase=Phase.voting)
    district = districts_of(db_session, cycle)[0]
    url = f"/cycles/{cycle.id}/districts/{district.id}/access-codes"
    response = client.post(url, data={"count": "5", "output": "csv"})
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    printed = re.findall(r"[0-9A-Z]{4}(?:-[0-9A-Z]{4}){5}", response.text)
    assert len(printed) == 5
    dump = _all_text(db_session)
    key = settings.access_code_key.get_secret_value().encode()
    for code in printed:
        canonical = code.replace("-", "")
        assert code not in dump and canonical not in dump
        assert hashlib.sha256(canonical.encode()).hexdigest() not in dump  # not unkeyed
        assert code_hash(key, canonical) in dump


# --- access codes across districts, used codes ----------------------------------------------


def _voting_cycle(db_session: Session, settings: Settings) -> dict[str, Any]:
    cycle = make_cycle(db_session, phase=Phase.voting)
    north, south = districts_of(db_session, cycle)
    projects = {
        d.id: make_proposal(
            db_session,
            cycle=cycle,
            district=d,
            status=ProposalStatus.accepted,
            final_cost_minor=1_000_00,
        )
        for d in (north, south)
    }
    key = settings.access_code_key.get_secret_value().encode()
    codes = {
        d.id: format_code(
            eligibility_service.issue_access_codes(db_session, district_id=d.id, count=1, key=key)[
                1
            ][0]
        )
        for d in (north, south)
    }
    return {"north": north, "south": south, "projects": projects, "codes": codes}


def test_a_code_votes_only_in_its_own_district(client, db_session, settings) -> None:  # type: ignore[no-untyped-def]
    v = _voting_cycle(db_session, settings)
    north_code = v["codes"][v["north"].id]
    south_project = v["projects"][v["south"].id].id
    before = table_counts(db_session)["ballot"]
    response = client.post("/vote/cast", data={"code": north_code, "project": [str(south_project)]})
    assert response.status_code == 422
    api = client.post("/api/ballots", json={"code": north_code, "projects": [south_project]})
    assert api.status_code == 422
    assert table_counts(db_session)["ballot"] == before
    opened = client.post("/api/ballots/open", json={"code": north_code}).json()
    assert opened["district_id"] == v["north"].id
    assert [p["id"] for p in opened["projects"]] == [v["projects"][v["north"].id].id]


def test_unknown_codes_all_get_the_same_answer(client, db_session, settings) -> None:  # type: ignore[no-untyped-def]
    """Whatever district or cycle a guess might belong to, the answer gives nothing away."""
    v = _voting_cycle(db_session, settings)
    other_key = b"not the server key"
    guesses = [
        format_code(c)
        for c in eligibility_service.issue_access_codes(
            db_session, district_id=v["south"].id, count=3, key=other_key
        )[1]
    ]
    answers = set()
    for guess in guesses:
        response = client.post("/api/ballots/open", json={"code": guess})
        body = response.json()
        answers.add((response.status_code, body["type"], body["detail"]))
    assert len(answers) == 1
    status, kind, _detail = answers.pop()
    assert (status, kind) == (422, "/problems/access-code-unknown")


@pytest.mark.parametrize("via", ["form", "api"])
def test_a_used_code_is_refused_and_gives_no_second_ballot(  # type: ignore[no-untyped-def]
    client, db_session, settings, via
) -> None:
    v = _voting_cycle(db_session, settings)
    code = v["codes"][v["north"].id]
    project = v["projects"][v["north"].id].id
    answers = []
    for _ in range(2):
        if via == "form":
            r = client.post("/vote/cast", data={"code": code, "project": [str(project)]})
        else:
            r = client.post("/api/ballots", json={"code": code, "projects": [project]})
        answers.append(r.status_code)
    assert answers[0] in (201, 303) and answers[1] == 422, answers
    ballots = db_session.execute(
        text("SELECT count(*) FROM ballot WHERE district_id = :d"), {"d": v["north"].id}
    ).scalar_one()
    assert ballots == 1


# --- ballots at rest -------------------------------------------------------------------------


def test_a_stored_ballot_cannot_be_joined_to_its_code(db_session, settings, client) -> None:  # type: ignore[no-untyped-def]
    inspector = inspect(db_session.connection())
    for table in ("ballot", "ballot_item", "access_code"):
        columns = inspector.get_columns(table)
        for column in columns:
            kind = str(column["type"]).upper()
            assert "DATE" not in kind and "TIME" not in kind, (table, column["name"])
        if table != "access_code":
            assert not any("code" in c["name"] for c in columns), table
            targets = {fk["referred_table"] for fk in inspector.get_foreign_keys(table)}
            assert "access_code" not in targets and "access_code_batch" not in targets
    # Receipts are random, not a sequence that orders ballots like the codes.
    v = _voting_cycle(db_session, settings)
    code = v["codes"][v["north"].id]
    project = v["projects"][v["north"].id].id
    receipt = client.post("/api/ballots", json={"code": code, "projects": [project]}).json()
    assert re.fullmatch(r"[0-9a-f]{32}", receipt["receipt"])


# --- personal data ---------------------------------------------------------------------------


@pytest.mark.parametrize("who", [None, "auditor"])
def test_no_personal_data_for_auditors_or_anonymous(  # type: ignore[no-untyped-def]
    client, db_session, login_as, who
) -> None:
    author = make_user(
        db_session, role="resident", email="private.person@example.org", display_name="Zed Q"
    )
    cycle = make_cycle(db_session, phase=Phase.results)
    for status in ProposalStatus:
        make_proposal(db_session, cycle=cycle, author=author, status=status)
    if who:
        login_as(who)
    params = {"cycle_id": cycle.id, "district_id": districts_of(db_session, cycle)[0].id}
    secrets_of_author = ["private.person@example.org", "Zed Q", author.password_hash]
    for method, path, route in ROUTES:
        if method != "GET":
            continue
        allowed = required_roles(route)
        if allowed is not None and who not in allowed:
            continue
        url = _url(path, params)
        response = client.get(url)
        assert response.status_code < 500, url
        body = response.text
        for secret in secrets_of_author:
            assert secret not in body, (url, secret)
        if path.startswith("/api/") and response.headers["content-type"].startswith(
            "application/json"
        ):
            assert '"email"' not in body or path == "/api/session", url
    for proposal_page in BeautifulSoup(
        client.get(f"/cycles/{cycle.id}/proposals").text, "html.parser"
    ).find_all("a", href=re.compile(r"^/proposals/\d+$")):
        page = client.get(proposal_page["href"]).text
        assert "private.person@example.org" not in page


@pytest.mark.parametrize("token", ["é" * 64, "\u4e2d" * 64, "\x00" * 64])
def test_a_non_ascii_csrf_token_is_refused_not_a_crash(client, token) -> None:  # type: ignore[no-untyped-def]
    """``hmac.compare_digest`` raises TypeError on non-ASCII text: that must be a 403."""
    client.csrf_token()
    for path in ("/logout", "/api/session"):
        as_form = client.post(path, csrf=False, data={"csrf_token": token})
        assert as_form.status_code == 403, (path, as_form.status_code)
    header = client.post(
        "/logout", csrf=False, headers={"X-CSRF-Token": token.encode("utf-8")[:64]}
    )
    assert header.status_code == 403


# --- secrets ---------------------------------------------------------------------------------


@pytest.mark.parametrize("environment", ["test", "production"])
@pytest.mark.parametrize("weak", ["", "   ", "x", "changeme", "dev-secret-change-me", " " * 40])
def test_weak_or_default_secrets_are_refused_outside_development(environment, weak) -> None:  # type: ignore[no-untyped-def]
    from pydantic import ValidationError

    strong = {
        "secret_key": "s" * 32,
        "access_code_key": "a" * 32,
        "voter_key": "v" * 32,
    }
    for name in strong:
        values = {**strong, name: weak}
        with pytest.raises(ValidationError, match=f"PLAZA_{name.upper()}"):
            Settings(environment=environment, **values)  # type: ignore[arg-type]
    Settings(environment=environment, **strong)  # type: ignore[arg-type]


def test_serve_refuses_default_secrets_in_production(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os
    import subprocess
    import sys

    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PLAZA_") or k == "PLAZA_TEST_POSTGRES_URL"
    }
    env.update(PLAZA_ENVIRONMENT="production", PLAZA_DATABASE_URL=f"sqlite:///{tmp_path}/x.db")
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "serve", "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "PLAZA_SECRET_KEY" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("path", ["/", "/vote", "/login", "/cycles", "/api/session", "/nowhere"])
def test_pages_cannot_be_framed_or_sniffed(client, path) -> None:  # type: ignore[no-untyped-def]
    """A voting page inside a hostile frame is a clickjacking trap."""
    response = client.get(path)
    assert response.headers["x-frame-options"] == "DENY", path
    assert response.headers["x-content-type-options"] == "nosniff", path
    if response.headers["content-type"].startswith("text/html"):
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"], path


@pytest.mark.parametrize("path", ["/", "/cycles", "/me/proposals", "/api/session", "/nowhere"])
def test_pages_are_never_for_a_shared_cache(client, login_as, path) -> None:  # type: ignore[no-untyped-def]
    """Every page carries its client's CSRF token and language, and a signed-in client's
    pages its name: no shared cache may keep them, a browser keeps nothing of a session
    (a kiosk, a library computer), and ``Vary`` names what chooses the answer."""
    anonymous = client.get(path, follow_redirects=False)
    assert anonymous.headers["cache-control"] == "private, no-cache", path
    vary = {v.strip().lower() for v in anonymous.headers["vary"].split(",")}
    assert {"cookie", "accept-language"} <= vary, path
    login_as("resident")
    signed_in = client.get(path, follow_redirects=False)
    assert signed_in.headers["cache-control"] == "no-store", path
    static = client.get("/static/css/plaza.css")
    assert static.status_code == 200 and "no-store" not in static.headers.get("cache-control", "")
