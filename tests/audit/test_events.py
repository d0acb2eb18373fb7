"""The catalogue of audit events: one entry per action, events outside it refused, and no
action named by an inline string anywhere in src/ (the scan that keeps it so)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from citywatch.domain.audit import CATALOGUE, Action, AuditEvent, AuditEventError, filter_problem

SRC = Path(__file__).resolve().parents[2] / "src" / "citywatch"
CATALOGUE_FILES = {"audit_actions.py", "audit_catalogue.py"}

_LITERAL = r"""[rbuf]*["'][a-z_]+\.[a-z_{}\[\]]+["']"""
_INLINE = re.compile(
    rf"AuditEvent\(\s*{_LITERAL}"  # AuditEvent("person.enrol", …), on one line or split
    rf"|\baction\s*(?::[^=\n]*)?=\s*{_LITERAL}"  # action="x.y", action: str = "x.y"
    rf"|\bAuditRecord\.action\s*==\s*{_LITERAL}"
)


def inline_actions(source: str) -> list[str]:
    """The places in `source` that name an audit action by a string literal."""
    return [m.group(0) for m in _INLINE.finditer(source)]


def test_values_are_unique_and_dotted() -> None:
    values = [a.value for a in Action]
    assert len(values) == len(set(values))
    assert all(re.fullmatch(r"[a-z_]+\.[a-z_]+", v) for v in values)


def test_every_action_has_an_entry_and_a_doc() -> None:
    assert set(CATALOGUE) == set(Action)
    documented = (SRC / "domain" / "audit_actions.py").read_text()
    for action in Action:
        assert re.search(rf'{action.name} = "{re.escape(action.value)}".*\n    """', documented), action


def test_an_action_is_its_string() -> None:
    assert Action.PERSON_ENROL == "person.enrol"
    assert AuditEvent("camera.start", "camera:gate").action is Action.CAMERA_START  # type: ignore[arg-type]


def test_an_unknown_action_is_refused() -> None:
    with pytest.raises(AuditEventError, match=r"'camera\.explode' is no audit action"):
        AuditEvent("camera.explode", "camera:gate")  # type: ignore[arg-type]


def test_an_unknown_params_key_is_refused() -> None:
    with pytest.raises(AuditEventError, match="params template are not in its catalogue entry"):
        AuditEvent(Action.PERSON_ENROL, "person:1", params={"model": "dlib", "template": [0.1]})


def test_an_event_without_a_needed_key_is_refused() -> None:
    # a search recorded without its window could not be explained afterwards
    with pytest.raises(AuditEventError, match="params lack since, until, which every such record holds"):
        AuditEvent(
            Action.SEARCH_PHOTO, "sha256:ab", params={"cameras": ["gate"], "model": "dlib", "threshold": 0.5}
        )
    with pytest.raises(AuditEventError, match="params lack reason"):
        AuditEvent(Action.HOLD_EXTEND_REFUSED, "hold:3")


def test_needed_keys_are_among_the_allowed_and_most_actions_need_some() -> None:
    assert all(spec.needs <= spec.params for spec in CATALOGUE.values())
    refusals = [a for a in Action if a.value.endswith("refused") and a is not Action.ACCESS_REFUSED]
    assert refusals and all("reason" in CATALOGUE[a].needs for a in refusals)


def test_an_object_of_another_kind_is_refused() -> None:
    with pytest.raises(AuditEventError, match="object 'camera:gate' is not a person"):
        AuditEvent(Action.PERSON_REMOVE, "camera:gate")


def test_an_event_within_its_entry_passes() -> None:
    event = AuditEvent(Action.ALERT_VIEW, "alerts:1-3", params={"ids": [1, 2, 3], "status": "new"})
    assert event.action == "alert.view"


@pytest.mark.parametrize("value", ["hold.place", "hold.*", "*", "al*"])
def test_filters_on_known_actions_pass(value: str) -> None:
    assert filter_problem(value) is None


@pytest.mark.parametrize(
    ("value", "said"), [("hold.plce", "did you mean hold.place"), ("nope.*", "`thing.verb`")]
)
def test_filters_on_no_action_are_explained(value: str, said: str) -> None:
    problem = filter_problem(value)
    assert problem is not None and said in problem


def test_src_names_no_action_by_an_inline_string() -> None:
    found = [
        f"{path.relative_to(SRC)}: {hit}"
        for path in sorted(SRC.rglob("*.py"))
        if path.name not in CATALOGUE_FILES
        for hit in inline_actions(path.read_text())
    ]
    assert found == [], "name audit actions by citywatch.domain.audit.Action, not by a string"


@pytest.mark.parametrize(
    "source",
    [
        'rt.audit(AuditEvent("camera.start", f"camera:{c}"))',
        'event = AuditEvent(\n    "person.enrol",\n    f"person:{p}",\n)',
        'log.page(limit=1, action="export.verify")',
        'log.append(s, actor="a", role="r", action=f"alert.{kind}", object="alert:1")',
        'def get(self, action: str = "request.read") -> None: ...',
        'AuditRecord.action == "token.issue"',
    ],
)
def test_the_scan_catches_an_inline_action(source: str) -> None:
    assert inline_actions(source)


def test_the_scan_lets_the_catalogue_through() -> None:
    source = 'rt.audit(AuditEvent(Action.CAMERA_START, f"camera:{c}"))\nlog.page(action=Action.EXPORT_VERIFY)'
    assert inline_actions(source) == []
