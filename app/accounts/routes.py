"""Account pages (sign up, log in, log out, language) and their JSON API twins."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import JSONResponse
from sqlmodel import Session

from app.accounts import service
from app.accounts.schemas import LogIn, SessionRead, SignUp, UserRead
from app.core.config import Settings, SettingsDep
from app.core.db import SessionDep
from app.core.errors import DomainError, form_page, problem_for
from app.core.htmx import safe_next, see_other
from app.core.http import takes
from app.core.i18n import LANG_COOKIE, LOCALES
from app.core.security import (
    SESSION_COOKIE,
    OptionalUser,
    User,
    clear_session_cookie,
    csrf_token,
    set_session_cookie,
)
from app.core.templating import render

router = APIRouter(tags=["pages: accounts"])
# Input refused before a handler runs shows these pages again (app.core.errors).
form_page("accounts:login_submit", "accounts:login")
form_page("accounts:signup_submit", "accounts:signup")
api = APIRouter(prefix="/api", tags=["accounts"])


def _client(request: Request) -> str:
    """The client's address (uvicorn's ``--proxy-headers`` applies a load balancer's)."""
    return request.client.host if request.client else "unknown"


def _user_agent(request: Request) -> str:
    return request.headers.get("user-agent", "")[:200]


def _device(request: Request) -> str | None:
    return request.cookies.get(service.DEVICE_COOKIE)


def _log_in(
    request: Request, session: Session, settings: Settings, email: str, password: str
) -> tuple[User, str]:
    """``service.log_in_limited`` with what the request tells about the client."""
    return service.log_in_limited(
        session,
        email=email,
        password=password,
        settings=settings,
        client=_client(request),
        now=int(time.time()),
        user_agent=_user_agent(request),
        previous_token=request.cookies.get(SESSION_COOKIE),
        device=_device(request),
    )


def _remember_device(request: Request, response: Response, email: str, settings: Settings) -> None:
    """After a successful log-in: give this browser a device cookie for the account (it keeps
    the owner's browser out of the account's lockout, see ``service.log_in_limited``)."""
    if service.trusted_device(_device(request), email, settings):
        return
    response.set_cookie(
        service.DEVICE_COOKIE,
        service.device_cookie_for(email, settings),
        max_age=service.DEVICE_MAX_AGE_SECONDS,
        httponly=True,
        secure=settings.secure_cookies,
        samesite="strict",
        path="/",
    )


@router.get("/login", name="accounts:login")
def login_form(request: Request, user: OptionalUser, next: str = "") -> Response:
    return render(
        request,
        "accounts/login.html",
        {"form": {"email": ""}, "next": safe_next(next, ""), "error": None},
        block="login_form",
    )


@router.post("/login", name="accounts:login_submit")
def login_submit(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    email: Annotated[str, Form(max_length=254)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    try:
        _user, token = _log_in(request, session, settings, email, password)
    except DomainError as exc:
        # Returned, not raised: the failed attempt's count commits (nothing else was written).
        return render(
            request,
            "accounts/login.html",
            {"form": {"email": email}, "next": safe_next(next, ""), "error": exc},
            block="login_form",
            status_code=429 if exc.status_code == 429 else 422,
        )
    response = see_other(request, _page_to_return_to(request, safe_next(next)))
    set_session_cookie(response, token, settings)
    _remember_device(request, response, email, settings)
    return response


@router.get("/signup", name="accounts:signup")
def signup_form(request: Request, user: OptionalUser) -> Response:
    return render(
        request,
        "accounts/signup.html",
        {"form": {"email": "", "display_name": ""}, "error": None},
        block="signup_form",
    )


@router.post("/signup", name="accounts:signup_submit")
def signup_submit(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    email: Annotated[str, Form(max_length=254)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    display_name: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    try:
        service.count_sign_up(
            session, settings=settings, client=_client(request), now=int(time.time())
        )
        with session.begin_nested():  # a refused sign-up leaves only its count behind
            service.sign_up_resident(
                session,
                email=email,
                password=password,
                display_name=display_name,
                settings=settings,
            )
            _user, token = service.log_in(
                session,
                email=email,
                password=password,
                settings=settings,
                user_agent=_user_agent(request),
                previous_token=request.cookies.get(SESSION_COOKIE),
            )
    except DomainError as exc:
        # Returned, not raised: the attempt's count commits; the savepoint undid the rest.
        return render(
            request,
            "accounts/signup.html",
            {"form": {"email": email, "display_name": display_name}, "error": exc},
            block="signup_form",
            status_code=429 if exc.status_code == 429 else 422,
        )
    response = see_other(request, "/")
    set_session_cookie(response, token, settings)
    _remember_device(request, response, email, settings)
    return response


@router.post("/logout", name="accounts:logout")
def logout(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    service.log_out(session, token=request.cookies.get(SESSION_COOKIE))
    response = see_other(request, "/")
    clear_session_cookie(response, settings)
    return response


def _page_to_return_to(request: Request, target: str) -> str:
    """The page to send a browser back to: ``target`` (a local path from ``safe_next``) if
    something answers GET there, else the nearest path above it that does, else ``/``.

    A page can be the answer to a POST whose path answers nothing else (the ballot at
    ``/vote/ballot``, a form shown again at ``/cycles/2/rules``); the browser must not be
    sent to GET it (405), so it goes up the path instead (``/vote``, ``/cycles/2``).
    """
    path = target.partition("?")[0]
    if takes(request, "GET", path):
        return target
    while path not in ("", "/"):
        path = path.rstrip("/").rsplit("/", 1)[0]
        if path and takes(request, "GET", path):
            return path
    return "/"


@router.post("/language", name="accounts:set_language")
def set_language(
    request: Request,
    settings: SettingsDep,
    lang: Annotated[str, Form(max_length=20)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    response = see_other(request, _page_to_return_to(request, safe_next(next)))
    if lang in LOCALES:
        response.set_cookie(
            LANG_COOKIE,
            lang,
            max_age=365 * 24 * 3600,
            httponly=True,
            secure=settings.secure_cookies,
            samesite="lax",
        )
    return response


# --- JSON API ------------------------------------------------------------------------------


def _user_read(user: object) -> UserRead:
    return UserRead.model_validate(user, from_attributes=True)


@api.get("/session", name="api:session", response_model=SessionRead)
def api_session(request: Request, user: OptionalUser, settings: SettingsDep) -> SessionRead:
    """Who is logged in, and the CSRF token to send as ``X-CSRF-Token`` on writes."""
    return SessionRead(
        user=_user_read(user) if user else None, csrf_token=csrf_token(request, settings)
    )


@api.post("/session", name="api:login", response_model=SessionRead)
def api_login(
    request: Request, body: LogIn, session: SessionDep, settings: SettingsDep
) -> Response:
    try:
        user, token = _log_in(request, session, settings, body.email, body.password)
    except DomainError as exc:
        return problem_for(exc)  # returned, not raised: the failed attempt's count commits
    # The token of the session this response opens (the request's cookie is the old one).
    payload = SessionRead(
        user=_user_read(user), csrf_token=csrf_token(request, settings, session_token=token)
    )
    response = JSONResponse(payload.model_dump())
    set_session_cookie(response, token, settings)
    _remember_device(request, response, body.email, settings)
    return response


@api.delete("/session", name="api:logout", status_code=204)
def api_logout(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    service.log_out(session, token=request.cookies.get(SESSION_COOKIE))
    response = Response(status_code=204)
    clear_session_cookie(response, settings)
    return response


@api.post("/accounts", name="api:signup", response_model=UserRead, status_code=201)
def api_signup(
    request: Request, body: SignUp, session: SessionDep, settings: SettingsDep
) -> UserRead | Response:
    try:
        service.count_sign_up(
            session, settings=settings, client=_client(request), now=int(time.time())
        )
        with session.begin_nested():
            user = service.sign_up_resident(
                session,
                email=body.email,
                password=body.password,
                display_name=body.display_name,
                settings=settings,
            )
    except DomainError as exc:
        return problem_for(exc)  # returned, not raised: the attempt's count commits
    return _user_read(user)
