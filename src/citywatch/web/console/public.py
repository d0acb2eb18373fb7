"""Public pages, no sign-in: the transparency report (counts only, never a name) and the
subject-access request form, which posts to the API's public route (`api.requests`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request, Response

from citywatch.domain.access import Permission
from citywatch.domain.errors import InvalidInput
from citywatch.transparency.report import TransparencyReport, transparency_report
from citywatch.web.api.auth import Caller, clear_stale_session, requires, runtime_of, session_actor
from citywatch.web.console.render import add_page, render

Day = Annotated[date | None, Query(description="A day, YYYY-MM-DD (UTC).")]


def add_routes(app: FastAPI) -> None:

    add_page(app, "/transparency", transparency_page)
    add_page(app, "/request", request_form_page)


@dataclass(frozen=True, slots=True)
class Bar:
    """One labelled count and its length (0-100) against the largest of its chart."""

    label: str
    value: int
    length: float


def bars(counts: Iterable[tuple[str, int]]) -> list[Bar]:
    """Counts as bars scaled to the largest (a zero count is a bar of length zero)."""
    items = list(counts)
    top = max((v for _, v in items), default=0)
    return [Bar(label, value, round(100 * value / top, 1) if top else 0.0) for label, value in items]


@dataclass(frozen=True, slots=True)
class Charts:
    """The report's counts, as the page draws them."""

    modes: list[Bar]
    legal_bases: list[Bar]
    sizes: list[Bar]
    holds: list[Bar]
    requests: Mapping[str, list[Bar]]
    deleted: list[Bar]
    receipts: list[Bar]


def transparency_page(
    request: Request,
    _: Annotated[Caller, requires(Permission.PUBLIC)],
    since: Day = None,
    until: Day = None,
) -> Response:
    """The transparency report for a period (default: everything so far): where
    identification is on, under which authorisations, holds, requests and deletions."""
    start = None if since is None else datetime.combine(since, time(), UTC)
    end = None if until is None else datetime.combine(until, time(), UTC)
    error = ""
    rt = runtime_of(request)
    try:
        report = transparency_report(rt.database, rt.policy, rt.cameras(), start, end)
    except InvalidInput as exc:
        error = str(exc)
        report = transparency_report(rt.database, rt.policy, rt.cameras())
    return render_public(
        request,
        "transparency.html",
        report=report,
        charts=charts(report),
        since=since,
        until=until,
        error=error,
    )


def charts(report: TransparencyReport) -> Charts:
    by_kind: dict[str, list[tuple[str, int]]] = {}
    for count in report.requests:
        by_kind.setdefault(count.kind.replace("_", " "), []).append(
            (count.status.replace("_", " "), count.count)
        )
    auth = report.authorisations
    return Charts(
        modes=bars(report.cameras.by_mode.items()),
        legal_bases=bars((b.legal_basis, b.authorisations) for b in auth.by_legal_basis),
        sizes=bars(
            (f"{size} camera{'s' if size != 1 else ''}", n) for size, n in sorted(auth.by_size.items())
        ),
        holds=bars(report.holds.by_reference.items()),
        requests={kind: bars(counts) for kind, counts in by_kind.items()},
        deleted=bars((cls.replace("_", " "), n) for cls, n in report.deleted.items()),
        receipts=bars((k.kind.replace("_", " "), k.receipts) for k in report.by_kind),
    )


def request_form_page(request: Request, _: Annotated[Caller, requires(Permission.PUBLIC)]) -> Response:
    """The subject-access request form: who you are, how to reach you, a photo of yourself,
    and where and when you think you were filmed."""
    rt = runtime_of(request)
    settings = rt.settings
    return render_public(
        request,
        "public_request.html",
        cameras=[(c.id, c.name or c.id) for c in rt.cameras()],
        photo_max_mb=settings.api.public_photo_max_mb,
        per_hour=settings.api.public_requests_per_hour,
        deadline_days=settings.requests.subject_access_deadline_days,
    )


def render_public(request: Request, template: str, **context: Any) -> Response:
    """A public page: the same for everyone, but a signed-in browser keeps its navigation here,
    and a session cookie that signs nobody in any more is cleared."""
    actor = session_actor(request)
    response = render(request, template, None if actor is None else Caller(actor), **context)
    clear_stale_session(request, response, actor)
    return response
