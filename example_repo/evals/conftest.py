"""Fixtures shared by the evals: the assistant built from this repository's config files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from assistant import Assistant, load_config
from evals.casebook import load_questions

ROOT = Path(__file__).parents[1]  # the example repository: config/, deploy/, prompts/, tools/


@pytest.fixture(scope="session")
def assistant() -> Assistant:
    """The assistant as configured at the checked-out commit (simulated model by default)."""
    return Assistant(load_config(ROOT))


@pytest.fixture(scope="session")
def questions() -> list[dict[str, Any]]:
    return load_questions()
