"""pytest-rollout: sequenced releases of AI systems, gated in pytest.

The package is laid out by stage, in the order data flows (see docs/architecture.md):
``diff`` (what moved between two commits) -> ``gate`` (which layers, and may they ship
together) -> ``evals`` (repeated trials and verdicts) -> ``baselines`` (stored runs), with
``cli`` and ``plugin`` as the two front doors. Importing this package is cheap: the stage
modules (git, YAML, pydantic, scipy) load only when a command or hook needs them.
"""

from __future__ import annotations

__all__ = ["__version__"]


def __getattr__(name: str) -> str:
    # pyproject.toml is the one version source (as pluggy does it): read from the installed metadata.
    if name == "__version__":
        from importlib.metadata import version

        return version("pytest-rollout")
    raise AttributeError(f"module 'pytest_rollout' has no attribute {name!r}")
