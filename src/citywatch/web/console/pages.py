"""The console's frame: sign-in and sign-out pages, the front door, and its static files.
Each group of pages adds its routes here (`add_routes`), declared on the app with one
permission each, like the API's."""

from __future__ import annotations

from importlib.resources import files
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import FastAPI, HTTPException, Path, Query, Request, Response, status
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from citywatch.domain.access import Permission
from citywatch.domain.errors import InvalidInput, PermissionDenied
from citywatch.web.api.auth import Caller, check_same_origin, clear_stale_session, requires, session_actor
from citywatch.web.api.session import sign_in, sign_out
from citywatch.web.api.uploads import read_body
from citywatch.web.console import accountability as accountability_pages
from citywatch.web.console import alerts as alert_pages
from citywatch.web.console import cameras as camera_pages
from citywatch.web.console import orders as order_pages
from citywatch.web.console import people as people_pages
from citywatch.web.console import public as public_pages
from citywatch.web.console import requests as request_pages
from citywatch.web.console import search as search_pages
from citywatch.web.console.render import add_page, nav_for, render

STATIC_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}
LOGIN_FORM_MAX = 4096
"""A sign-in form is a name and a password: a longer body is refused before it is parsed, and
it is never read past this many bytes."""
LOGIN_FORM_FIELDS = 5
"""name, password and next, with room to spare; more is refused (422), not parsed."""


def add_routes(app: FastAPI) -> None:
    """Declared on the app itself (not an included router), so that `app.routes` lists them."""
    add_page(app, "/", front_door)
    add_page(app, "/login", login_page)
    add_page(app, "/login", login, "POST")
    add_page(app, "/logout", logout, "POST")
    add_page(app, "/static/{name}", static_file)
    accountability_pages.add_routes(app)
    request_pages.add_routes(app)
    public_pages.add_routes(app)
    alert_pages.add_routes(app)
    camera_pages.add_routes(app)
    people_pages.add_routes(app)
    order_pages.add_routes(app)
    search_pages.add_routes(app)


def front_door(request: Request, _: Annotated[Caller, requires(Permission.PUBLIC)]) -> Response:
    """Signed in: the first page the role may open; otherwise the sign-in page."""
    actor = session_actor(request)
    pages = [] if actor is None else nav_for(actor)
    response = RedirectResponse(pages[0].path if pages else "/login", status.HTTP_303_SEE_OTHER)
    clear_stale_session(request, response, actor)
    return response


def login_page(
    request: Request,
    _: Annotated[Caller, requires(Permission.PUBLIC)],
    next_: Annotated[str, Query(alias="next", max_length=2000)] = "/",
) -> Response:
    response = render(request, "login.html", next=_local(next_), error="", name="")
    clear_stale_session(request, response, session_actor(request))
    return response


async def login(request: Request, _: Annotated[Caller, requires(Permission.PUBLIC)]) -> Response:
    """The sign-in form: on success the session cookie and a redirect to where the browser was
    going; on failure the form again, saying so (in the same words for any wrong name or password)."""
    check_same_origin(request)  # no other site signs a browser in (or out) here
    body = await read_body(request, LOGIN_FORM_MAX, too_large="a sign-in form is never this large")
    form = _login_form(body)
    name, password, back = form.get("name", ""), form.get("password", ""), _local(form.get("next", "/"))
    response = RedirectResponse(back, status.HTTP_303_SEE_OTHER)
    try:
        await run_in_threadpool(sign_in, request, response, name, password)
    except PermissionDenied as exc:
        return render(
            request, "login.html", status_code=status.HTTP_403_FORBIDDEN, next=back, error=str(exc), name=name
        )
    return response


def logout(request: Request, _: Annotated[Caller, requires(Permission.PUBLIC)]) -> Response:
    check_same_origin(request)
    response = RedirectResponse("/login", status.HTTP_303_SEE_OTHER)
    sign_out(request, response)
    return response


def static_file(
    name: Annotated[str, Path(pattern=r"^[a-z0-9_-]+\.(css|js|svg)$", max_length=100)],
    _: Annotated[Caller, requires(Permission.PUBLIC)],
) -> Response:
    """The console's own stylesheet and scripts (no CDN: the console works on a closed network)."""
    resource = files("citywatch.web.console").joinpath("static", name)
    if not resource.is_file():
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no static file {name!r}")
    suffix = name[name.rindex(".") :]
    return Response(
        resource.read_bytes(),
        media_type=STATIC_TYPES[suffix],
        headers={"Cache-Control": "max-age=300", "X-Content-Type-Options": "nosniff"},
    )


def _login_form(body: bytes) -> dict[str, str]:
    """The fields of a urlencoded sign-in form (the first of each name); InvalidInput (422)
    for more fields than a sign-in form has, or for text that is not UTF-8."""
    try:
        fields = parse_qs(
            body.decode("utf-8"), max_num_fields=LOGIN_FORM_FIELDS, encoding="utf-8", errors="strict"
        )
    except UnicodeDecodeError:
        raise InvalidInput("the sign-in form is malformed: it is not UTF-8 text") from None
    except ValueError:  # parse_qs: more than max_num_fields
        raise InvalidInput(
            f"the sign-in form is malformed: more than {LOGIN_FORM_FIELDS} fields "
            "(it needs a name, a password and where to go next)"
        ) from None
    return {k: v[0] for k, v in fields.items()}


def _local(target: str) -> str:
    """Where to go after signing in: a path of this site only (never another host)."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
