"""pytest-rollout: sequenced releases of AI systems, gated in pytest.

Importing this package is cheap: the step modules (git, YAML, pydantic, scipy)
load only when a command or hook needs them.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
