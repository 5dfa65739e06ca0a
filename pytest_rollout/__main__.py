"""``python -m pytest_rollout`` is the ``pytest-rollout`` program."""

from __future__ import annotations

import sys

from pytest_rollout.cli import main

if __name__ == "__main__":
    sys.exit(main())
