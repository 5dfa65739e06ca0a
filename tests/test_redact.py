from __future__ import annotations

import pytest

from pytest_rollout.redact import MASK, is_secret_key, redact


@pytest.mark.parametrize(
    ("key", "secret"),
    [("api_key", True), ("OPENAI_API_KEY", True), ("apiKey", True), ("auth_token", True), ("password", True),
     ("client_secret", True), ("credentials", True), ("max_tokens", False), ("top_k", False),
     ("tokenizer", False), ("keyboard_layout", False), ("[key=search]", False)],
)
def test_secret_keys(key: str, secret: bool) -> None:
    assert is_secret_key([key]) is secret


@pytest.mark.parametrize(
    "value",
    ["sk-proj-abcdefghijklmnopqrstu", "AKIAIOSFODNN7EXAMPLE", "ghp_" + "a" * 36,
     "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N"],
)
def test_credential_shaped_values_are_masked_anywhere(value: str) -> None:
    assert redact(value, ("llm", "note")) == MASK
    assert redact(f"Bearer {value} trailing", ("x",)) == f"Bearer {MASK} trailing"


def test_nested_values() -> None:
    assert redact({"password": "hunter2", "host": "db"}, ("db",)) == {"password": MASK, "host": "db"}
    assert redact("anything", ("llm", "api_key")) == MASK
    assert redact(None, ("api_key",)) is None
    assert redact(0.2, ("temperature",)) == 0.2
