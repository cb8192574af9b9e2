"""Server logs that never link a client to a ballot (ADR 0001).

A receipt is its ballot's id, so an access-log line such as
``1.2.3.4:49064 - "GET /vote/done/88e6...b1 HTTP/1.1" 200`` joins a client's address and a
time to a ballot. A route with a path parameter named in ``SECRET_PARAMS`` is *secret*: in
the logs below, a path under it is written as the route's template (``/vote/done/{receipt}``,
query string dropped), and a query parameter with one of those names loses its value on any
path. Client, method, status and time stay, so the access log still shows traffic and errors.

``install(app)`` puts the filter on uvicorn's access and error loggers and on Plaza's own
(``plaza``: the error handlers log the path of a failed request). ``app.main.server_app``
calls it, so ``plaza serve``, ``plaza demo --serve`` (``make run``) and
``uvicorn app.main:server_app --factory`` are all covered. A reverse proxy keeps logs of its
own: see the README ("Access logs and ballot secrecy").
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence

from fastapi.routing import iter_route_contexts
from starlette.applications import Starlette
from starlette.routing import BaseRoute

#: path or query parameters whose values identify a ballot
SECRET_PARAMS = frozenset({"receipt", "ballot_id"})
#: uvicorn's request lines, uvicorn's errors (WebSocket lines carry the path), Plaza's own
LOGGERS = ("uvicorn.access", "uvicorn.error", "plaza")

_PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")  # a Starlette path parameter: {name} or {name:type}
_SECRET_QUERY = re.compile(r"(?<![^?&])(" + "|".join(sorted(SECRET_PARAMS)) + r")=[^&#]*")


def secret_templates(routes: Sequence[BaseRoute]) -> list[str]:
    """The path templates of the routes that carry a secret parameter (included routers'
    routes too)."""
    found = set()
    for route in iter_route_contexts(routes):
        path = route.path
        if isinstance(path, str) and any(m[1] in SECRET_PARAMS for m in _PARAM.finditer(path)):
            found.add(path)
    return sorted(found)


def _prefix_pattern(template: str) -> re.Pattern[str]:
    """What a logged path looks like up to the template's first secret parameter
    (``/vote/done/{receipt}`` -> ``/vote/done/``; other parameters match one segment)."""
    secret = next(m for m in _PARAM.finditer(template) if m[1] in SECRET_PARAMS)
    prefix = template[: secret.start()]
    pattern, end = "", 0
    for param in _PARAM.finditer(prefix):
        pattern += re.escape(prefix[end : param.start()]) + "[^/]*"
        end = param.end()
    return re.compile(pattern + re.escape(prefix[end:]))


class SecretPathFilter(logging.Filter):
    """Rewrites the string arguments of a record that are paths under a secret route.

    Everything after a secret route's prefix is replaced, so a trailing slash, more segments
    or a query string (none of which the route answers) carry no receipt either; the prefix
    is searched anywhere in the path (a ``root_path`` before it changes nothing).
    """

    def __init__(self, templates: Iterable[str]) -> None:
        super().__init__()
        self.routes = [(_prefix_pattern(t), t) for t in templates]

    def redact(self, text: str) -> str:
        if not text.startswith("/"):
            return text
        path, mark, query = text.partition("?")
        for prefix, template in self.routes:
            found = prefix.search(path)
            if found is not None:
                return path[: found.start()] + template
        return path + mark + _SECRET_QUERY.sub(r"\1={\1}", query)

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                self.redact(arg) if isinstance(arg, str) else arg for arg in record.args
            )
        return True


def install(app: Starlette) -> SecretPathFilter:
    """Put a filter for ``app``'s secret routes on ``LOGGERS`` (replacing an earlier one)."""
    redactor = SecretPathFilter(secret_templates(app.router.routes))
    for name in LOGGERS:
        logger = logging.getLogger(name)
        for old in [f for f in logger.filters if isinstance(f, SecretPathFilter)]:
            logger.removeFilter(old)
        logger.addFilter(redactor)
    return redactor
