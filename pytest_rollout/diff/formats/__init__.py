"""Structured config files -> flat key paths: the unit every later step reasons about.

Comments, key order, quoting and formatting are no change at all, and an insert into a
list of named entries is one change, not a shift of every entry after it (docs/reference.md,
"Layer-map rules"). So each file is parsed and flattened to
``{key path: leaf value}``; two flattenings compare key by key.

Key path segments:

* a mapping key, as ``str`` (YAML/TOML ints, bools and dates are ``str()``-ed);
* ``"[3]"``: a list element by index;
* ``"[name=search]"``: an element of a list of mappings matched by its identity
  field (``name``, ``id``, ``model_name``, ``key``, in that order). A list is
  identity-matched only when every element is a mapping carrying the same field
  with a scalar, unique value; otherwise by index.

Lists of scalars are one leaf (order matters: a fallback list reordered is a
change). Empty mappings and lists are leaves. A YAML file with several
(non-empty) documents is a list of documents. A mapping key that itself looks
like a list segment (``"[0]"``) cannot be told apart from one: such keys do not
occur in real configs and the price of an escape scheme would be paid by every
key rule users write.

This module never runs git and never touches the file system.
"""

from pytest_rollout.diff.formats.common import IDENTITY_FIELDS, ConfigSyntaxError, KeyPath, Parsed
from pytest_rollout.diff.formats.dispatch import is_structured, parse
from pytest_rollout.diff.formats.flat import flatten, unflatten
from pytest_rollout.diff.formats.keys import format_key, printable, printable_line
from pytest_rollout.diff.formats.yaml import MAX_EXPANDED_NODES, ConfigLoader

__all__ = [
    "IDENTITY_FIELDS",
    "MAX_EXPANDED_NODES",
    "ConfigLoader",
    "ConfigSyntaxError",
    "KeyPath",
    "Parsed",
    "flatten",
    "format_key",
    "is_structured",
    "parse",
    "printable",
    "printable_line",
    "unflatten",
]
