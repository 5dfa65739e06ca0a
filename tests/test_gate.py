from __future__ import annotations

import subprocess

import pytest

from pytest_rollout.gate.policy import OverrideRequest, decide, find_overrides, make_plan, parse_trailers
from pytest_rollout.models import Change
from pytest_rollout.settings import Settings

SEED = [
    Change(
        path="config/app.yaml",
        key="llm.model",
        layer="model",
        kind="modified",
        old="gpt-4-turbo-preview",
        new="gpt-4o",
        line=4,
    ),
    Change(
        path="config/app.yaml", key="llm.context_window", layer="context", kind="modified", old=8192, new=32768, line=8
    ),
    Change(path="deploy/serving.yaml", key="serving.batch_size", layer="infra", kind="modified", old=8, new=32, line=2),
]


def test_seed_bundle_is_blocked_with_plan_in_ship_order() -> None:
    d = decide(SEED, [], Settings())
    assert d.status == "blocked"
    assert d.reasons == ["3 coupled layers moved in one release: infra, model, context; at most 1 may"]
    assert [s.layer for s in d.plan] == ["infra", "model", "context"]
    assert d.plan[0].changes[0].key == "serving.batch_size"
    assert d.plan[0].instruction.startswith("ship the infra change alone, measure its evals, then step 2")
    assert d.plan[1].shared_files == ["config/app.yaml"]  # model and context share a file
    assert "split that file's edit across commits" in d.plan[1].instruction
    assert d.plan[2].instruction.endswith(
        "config/app.yaml also carries other steps' changes: split that file's edit across commits"
    )


def test_one_layer_passes() -> None:
    d = decide(SEED[:1], [], Settings())
    assert d.status == "pass" and d.reasons == [] and d.plan == []


def test_groups_and_limit() -> None:
    s = Settings.model_validate(
        {"coupling": {"groups": [["infra"], ["model", "context"]], "max_layers_per_release": 1}}
    )
    d = decide(SEED, [], s)
    assert d.reasons == ["2 coupled layers moved in one release: model, context; at most 1 may"]
    s2 = Settings.model_validate({"coupling": {"max_layers_per_release": 3}})
    assert decide(SEED, [], s2).status == "pass"


def test_strict_blocks_unclassified() -> None:
    odd = Change(path="config/app.yaml", key="llm.seed", layer=None, kind="added", new=1)
    assert decide(SEED[:1], [odd], Settings()).status == "pass"
    d = decide(SEED[:1], [odd], Settings(strict=True))
    assert d.status == "blocked" and "unclassified" in d.reasons[0] and "config/app.yaml:llm.seed" in d.reasons[0]


def test_override_by_trailer_names_reason_commit_author() -> None:
    req = OverrideRequest("migrating provider, measured together", "trailer", "a" * 40, "Dana <d@x>")
    d = decide(SEED, [], Settings(), [req])
    assert d.status == "pass" and d.reasons == []
    assert d.override is not None and d.override.author == "Dana <d@x>" and d.override.commit == "a" * 40


def test_empty_reason_and_disallowed_override_are_refused() -> None:
    d = decide(SEED, [], Settings(), [OverrideRequest("  ", "trailer", "b" * 40, "x")])
    assert d.status == "blocked" and any("empty reason" in r for r in d.reasons)
    s = Settings.model_validate({"override": {"allowed": False}})
    d = decide(SEED, [], s, [OverrideRequest("deliberate", "option")])
    assert d.status == "blocked" and any("override.allowed is false" in r for r in d.reasons)


def test_plan_follows_custom_order() -> None:
    s = Settings.model_validate({"order": ["context", "model", "infra"]})
    assert [p.layer for p in make_plan(SEED, s)] == ["context", "model", "infra"]


MESSAGES = [
    "subject\n\nbody\n\nRollout-Bundle-Approved: provider migration\nSigned-off-by: A <a@x>",
    "subject\n\nRollout-Bundle-Approved: one\n  continued here",
    "subject only, Rollout-Bundle-Approved: nope",
    "subject\n\nbody mentions Rollout-Bundle-Approved: inside prose\nand more prose",
    "subject\n\nRollout-Bundle-Approved:",
    "subject\n\nrollout-bundle-approved: lower case key",
]


@pytest.mark.parametrize("message", MESSAGES)
def test_trailers_parse_like_git(message: str) -> None:
    out = subprocess.run(
        ["git", "interpret-trailers", "--parse", "--no-divider"],
        input=message,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    expected = [tuple(part.strip() for part in line.split(":", 1)) for line in out.splitlines() if line.strip()]
    assert [(k, v) for k, v in parse_trailers(message)] == [(k, v) for k, v in expected]


def test_find_overrides_case_insensitive_key() -> None:
    found = find_overrides([("c" * 40, "A <a@x>", MESSAGES[5])], "Rollout-Bundle-Approved")
    assert [f.reason for f in found] == ["lower case key"]
