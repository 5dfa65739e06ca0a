"""One exception family for everything pytest-rollout refuses to guess about.

Library modules raise these; ``plugin.py`` turns them into ``pytest.UsageError``
(exit 4, ``ERROR: ...``) and ``cli.py`` into exit status 2. Every message names
the file (and line or field where there is one) and the fix.
"""

from __future__ import annotations


class RolloutError(Exception):
    """Base class: the gate cannot decide, so it fails closed."""


class SettingsError(RolloutError):
    """The settings file is missing a field, has a wrong one, or cannot be parsed."""


class GitError(RolloutError):
    """Not a git repository, an unknown ref, a shallow clone without the base."""


class NoBaseError(GitError):
    """Nothing names a base at all (no flag, CI variable, upstream or origin/HEAD)."""


class ConfigParseError(RolloutError):
    """A watched config file at head cannot be parsed (file:line in the message)."""


class MarkerError(RolloutError):
    """A ``layer``/``eval`` marker has arguments that are not allowed."""


class StoreError(RolloutError):
    """The baseline store cannot be opened or is of a newer schema."""
