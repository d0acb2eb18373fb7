"""What each audit action's record carries: the kinds of object it names, the params keys it
must hold and those it may hold. `check` refuses an event outside its entry: a programming
error, caught before anything stray (a typo, a biometric value under a new key) or anything
missing (a search without its window, a refusal without its reason) reaches the hash chain."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from difflib import get_close_matches
from types import MappingProxyType
from typing import Any

from citywatch.domain.audit_actions import Action

ANY_OBJECT = frozenset({"*"})
"""An action whose object is not of a fixed kind (a case search names the photo's digest, or
the path given when it is no file)."""


@dataclass(frozen=True, slots=True)
class EventSpec:
    """The fields of one action's records."""

    kinds: frozenset[str]
    """Kinds of object, the part of `object` before its first `:` (all of it when it has
    none): `person` for `person:12`, `alerts` for `alerts:1-50`; ANY_OBJECT: any."""
    params: frozenset[str]
    """The keys its params may hold (`needs` among them). The others are left out when unknown
    or not applicable (a camera stop adds what it processed, a start does not)."""
    needs: frozenset[str] = frozenset()
    """The keys every record of the action holds: what makes it explainable on its own (a
    refusal's reason, a search's model, cameras and window, a change's from and to)."""

    def problem(self, object_: str, params: Mapping[str, Any]) -> str | None:
        """Why an event on `object_` with `params` breaks this spec, or None."""
        kind = object_.partition(":")[0]
        if self.kinds is not ANY_OBJECT and kind not in self.kinds:
            return f"object {object_!r} is not a {' or '.join(sorted(self.kinds))}"
        unknown = sorted(set(params) - self.params)
        if unknown:
            allowed = ", ".join(sorted(self.params)) or "none"
            return f"params {', '.join(unknown)} are not in its catalogue entry (allowed: {allowed})"
        missing = sorted(self.needs - set(params))
        if missing:
            return f"params lack {', '.join(missing)}, which every such record holds"
        return None


def _spec(kinds: str, params: str = "", *, needs: str = "") -> EventSpec:
    """An entry from space-separated kinds, optional params keys and needed ones (`needs`);
    kinds `*`: any object."""
    needed = frozenset(needs.split())
    return EventSpec(
        ANY_OBJECT if kinds == "*" else frozenset(kinds.split()),
        frozenset(params.split()) | needed,
        needed,
    )


class AuditEventError(ValueError):
    """An audit event outside the catalogue: a bug in the code that built it."""


_WINDOW = "from until"
_VIEW = "camera limit before_id"
_CAMERA_RUN = "source requested_mode frames tracks alerts"
_AUTHORISATION = f"issuer objective cameras watchlists zones events urgent {_WINDOW}"
_REQUEST = f"kind status cameras {_WINDOW} deadline"
_FULFILLED = "appearances sightings faces_kept faces_blurred"
_ORDER = f"person authority area {_WINDOW} status"
_HOLD = f"reason requester cameras {_WINDOW} items expires_at"
_SEARCH = "cameras since until model threshold"
_SUBJECT_SEARCH = (
    f"cameras {_WINDOW} sightings recordings frames_scanned faces_compared unreadable_segments"
    " filed_by gone_before_hold"
)
_RECEIPT = "counts policy_version"
_PURGE = "id_ranges ids file_sha256 held files_sha256_digest audit"
_DERIVED = "reason template_ids templates_sha256"
_CHANGE = " ".join(
    (
        "person_id watchlist reference_ids",  # person.add, person.reference
        "from to from_id to_id",  # person.move, watchlist.threshold, watchlist.margin
        "hold reference expires_at lapses_at why",  # hold.place
        "placed_by reason",  # hold.release
    )
)
"""A change's records carry its kind and its own params (those of every kind); once decided,
its proposer too."""

CATALOGUE: Mapping[Action, EventSpec] = MappingProxyType(
    {
        Action.ACCESS_REFUSED: _spec(
            "api command export alert request requests hold holds camera",
            "cameras action",
            needs="permission",
        ),
        Action.AUTH_RATE_LIMITED: _spec("address user", needs="failures window_s"),
        Action.USER_LOGIN: _spec("user", needs="method role"),
        Action.USER_LOGIN_FAILED: _spec("user token", "reason", needs="method"),
        Action.SESSION_OPEN: _spec("token", "label", needs="user ttl_s"),
        Action.SESSION_CLOSE: _spec("token", needs="user"),
        Action.USER_ADD: _spec("user", "cameras password", needs="role"),
        Action.USER_ROLE: _spec("user", needs="from to"),
        Action.USER_CAMERAS: _spec("user", needs="from to"),
        Action.USER_PASSWORD: _spec("user", "password"),
        Action.USER_DISABLE: _spec("user"),
        Action.USER_ENABLE: _spec("user"),
        Action.TOKEN_ISSUE: _spec("token", "label", needs="user service"),
        Action.TOKEN_ISSUE_REFUSED: _spec("user", "user label service", needs="reason"),
        Action.TOKEN_REVOKE: _spec("token", "label", needs="user"),
        Action.WATCHLIST_CREATE: _spec("watchlist", "category", needs="name threshold margin severity"),
        Action.WATCHLIST_SEVERITY: _spec("watchlist", "watchlist", needs="from to"),
        Action.WATCHLIST_THRESHOLD: _spec("watchlist", "watchlist change", needs="from to"),
        Action.WATCHLIST_MARGIN: _spec("watchlist", "watchlist change", needs="from to"),
        Action.WATCHLIST_BIND: _spec("watchlist", "previous", needs="watchlist"),
        Action.PERSON_ENROL: _spec("person", "new_person sources reference_sha256", needs="model"),
        Action.PERSON_UPDATE: _spec("person", needs="fields"),
        Action.PERSON_MOVE: _spec("person", "person_id from_id to_id change", needs="from to"),
        Action.PERSON_REMOVE: _spec("person", "reference_images changes_withdrawn"),
        Action.PERSON_REFERENCE_VIEW: _spec("person", needs="reference_id sha256"),
        Action.CHANGE_PROPOSE: _spec("change", f"{_CHANGE} proposed_by", needs="kind"),
        Action.CHANGE_APPROVE: _spec("change", _CHANGE, needs="kind proposed_by"),
        Action.CHANGE_APPROVE_REFUSED: _spec("change", _CHANGE, needs="kind proposed_by reason"),
        Action.CHANGE_REFUSE: _spec("change", _CHANGE, needs="kind proposed_by reason"),
        Action.CHANGE_REFUSE_REFUSED: _spec("change", _CHANGE, needs="kind proposed_by reason"),
        Action.ALERT_VIEW: _spec("alert alerts", f"{_VIEW} status page", needs="ids"),
        Action.ALERT_ACKNOWLEDGE: _spec("alert"),
        Action.ALERT_CONFIRM: _spec("alert", needs="confirmations needed status"),
        Action.ALERT_CONFIRM_REFUSED: _spec("alert", "confirmed_by", needs="reason"),
        Action.ALERT_DISMISS: _spec("alert", "false_match non_match not_remembered", needs="reason"),
        Action.ALERT_NOTICE: _spec("alert", needs="note"),
        Action.ALERT_APPEAL: _spec("alert", needs="note"),
        Action.ALERT_APPEAL_OUTCOME: _spec("alert", needs="note"),
        Action.ALERT_NOTES: _spec("alert"),
        Action.ALERTS_STREAM: _spec("alerts", "last_event_id", needs="cameras"),
        Action.NON_MATCH_RECORD: _spec("non_match", needs="alert person_id camera"),
        Action.SIGHTING_VIEW: _spec("sightings", _VIEW, needs="ids"),
        Action.SIGHTING_CROP: _spec("sighting", needs="camera crop_sha256"),
        Action.OUTBOX_REPLAY: _spec("outbox", "alerts", needs="ids sinks"),
        Action.SINK_TEST: _spec("sink", "error", needs="ok"),
        Action.CAMERA_START: _spec("camera", _CAMERA_RUN),
        Action.CAMERA_STOP: _spec("camera", _CAMERA_RUN),
        Action.CAMERA_MODE: _spec("camera", "watchlists", needs="mode requested previous reasons"),
        Action.WORKER_RESTART: _spec("camera service", needs="restarts reason"),
        Action.WORKER_FAILED: _spec("camera service", needs="restarts reason"),
        Action.CAMERA_ADD: _spec("camera", "name location", needs="source mode version"),
        Action.CAMERA_CHANGE: _spec("camera", needs="fields from to version"),
        Action.CAMERA_REMOVE: _spec("camera", "source mode", needs="version footage_kept"),
        Action.CAMERA_SNAPSHOT: _spec("camera", "mode_now faces captured_at", needs="mode blurred"),
        Action.RECORDING_VIEW: _spec("camera", needs="since until ids"),
        Action.CLIP_EXPORT: _spec(
            "camera", "footage_from footage_until file", needs="since until segments sha256 blurred"
        ),
        Action.CLIP_REFUSED: _spec("camera", needs="since until reason"),
        Action.SEARCH_PHOTO: _spec("*", needs=_SEARCH),
        Action.SEARCH_REFUSED: _spec("*", needs=f"{_SEARCH} reason"),
        Action.SEARCH_SUBJECT_ACCESS: _spec("request", _SUBJECT_SEARCH),
        Action.ZONE_ADD: _spec("zone", "points", needs="protected cameras"),
        Action.ZONE_REMOVE: _spec("zone"),
        Action.EVENT_ADD: _spec("event", needs=f"zone {_WINDOW}"),
        Action.EVENT_REMOVE: _spec("event"),
        Action.POLICY_RULE_ADD: _spec("policy_rule", "camera zone", needs=f"mode {_WINDOW}"),
        Action.POLICY_RULE_REMOVE: _spec("policy_rule"),
        Action.AUTHORISATION_REQUEST: _spec("authorisation", "approval_deadline note", needs=_AUTHORISATION),
        Action.AUTHORISATION_APPROVE: _spec("authorisation", "approval_deadline note", needs=_AUTHORISATION),
        Action.AUTHORISATION_REFUSE: _spec("authorisation", "approval_deadline note", needs=_AUTHORISATION),
        Action.AUTHORISATION_REVOKE: _spec("authorisation", "approval_deadline note", needs=_AUTHORISATION),
        Action.AUTHORISATION_DECIDE_REFUSED: _spec("authorisation", needs="decision reason"),
        Action.ORDER_CREATE: _spec("order", "reason", needs=_ORDER),
        Action.ORDER_END: _spec("order", "reason", needs=_ORDER),
        Action.ORDER_REVOKE: _spec("order", "reason", needs=_ORDER),
        Action.REQUEST_FILE: _spec("request", "reason", needs=_REQUEST),
        Action.REQUEST_READ: _spec("request"),
        Action.REQUEST_REVIEW: _spec("request", "reason", needs=_REQUEST),
        Action.REQUEST_APPROVE: _spec("request", "reason", needs=_REQUEST),
        Action.REQUEST_REFUSE: _spec("request", "reason", needs=_REQUEST),
        Action.REQUEST_CLOSE: _spec("request", "reason", needs=_REQUEST),
        Action.REQUEST_FULFIL: _spec(
            "request", f"reason {_FULFILLED}", needs=f"{_REQUEST} export export_sha256"
        ),
        Action.REQUEST_DECIDE_REFUSED: _spec("request", "filed_by", needs="decision reason"),
        Action.HOLD_PLACE: _spec("hold", needs=_HOLD),
        Action.HOLD_PLACE_REFUSED: _spec("holds", needs=f"reason cameras {_WINDOW}"),
        Action.HOLD_APPROVE: _spec("hold", "change proposed_by", needs=_HOLD),
        Action.HOLD_EXTEND: _spec("hold", needs=_HOLD),
        Action.HOLD_EXTEND_REFUSED: _spec("hold", needs="reason"),
        Action.HOLD_RELEASE: _spec("hold", "release_reason change proposed_by", needs=_HOLD),
        Action.HOLD_RELEASE_REFUSED: _spec("hold", "asked", needs="reason"),
        Action.EXPORT_DOWNLOAD: _spec("export", "reference", needs="request sha256"),
        Action.EXPORT_VERIFY: _spec("export export-file", "problem", needs="ok"),
        Action.RECEIPT_PURGE: _spec("receipt", _PURGE, needs=_RECEIPT),
        Action.RECEIPT_HOLD_RELEASE: _spec(
            "receipt", "hold reference eligible_at_next_purge reason", needs=_RECEIPT
        ),
        Action.RECEIPT_AUTHORISATION: _spec(
            "receipt", f"{_DERIVED} sighting_ids crop_sha256s", needs=_RECEIPT
        ),
        Action.RECEIPT_ORDER: _spec("receipt", f"{_DERIVED} order reference_image_sha256s", needs=_RECEIPT),
        Action.AUDIT_PRUNE: _spec(
            "audit", "before seq_range from until anchor audit_days cutoff policy_version started_by"
        ),
    }
)
"""Every action's entry; a test holds that no action lacks one."""


def check(action: Action, object_: str, params: Mapping[str, Any]) -> None:
    """Raise AuditEventError when an event of `action` on `object_` with `params` is not what
    the catalogue says such an event is."""
    problem = CATALOGUE[action].problem(object_, params)
    if problem is not None:
        raise AuditEventError(f"audit event {action.value!r}: {problem}")


def filter_problem(value: str) -> str | None:
    """Why `value` filters the audit log by no action the catalogue knows, or None: an action
    (`hold.place`) or a prefix ending in `*` (`hold.*`, `*`) that some action starts with."""
    names = sorted(a.value for a in Action)
    if value in names or (value.endswith("*") and any(n.startswith(value.rstrip("*")) for n in names)):
        return None
    close = get_close_matches(value.rstrip("*"), names, n=3)
    families = sorted({n.partition(".")[0] for n in names})
    hint = f"did you mean {', '.join(close)}? " if close else ""
    return (
        f"no audit action {value!r}: {hint}actions are named `thing.verb`, for a thing among "
        f"{', '.join(families)} (a prefix ending in `*` filters on many, e.g. `hold.*`)"
    )
