"""Tool schemas (``tools/*.json``): load them and check them against the function-calling shape.

A schema is ``{"name", "description", "parameters"}`` where ``parameters`` is a JSON Schema
object (OpenAI and Anthropic tool definitions share this shape). The checker is hand-written
and covers what providers reject in practice, so the example needs no ``jsonschema`` package.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from .prompting import ToolSpec

_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_TYPES = {"string", "integer", "number", "boolean", "array", "object"}


def load_tools(folder: Path) -> list[ToolSpec]:
    """Every ``*.json`` in ``folder``, sorted by file name; raises ``ValueError`` on a bad schema."""
    tools = []
    for path in sorted(folder.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        problems = schema_problems(data)
        if problems:
            raise ValueError(f"{path.name}: " + "; ".join(problems))
        tools.append(ToolSpec(data["name"], data["description"], data["parameters"]))
    return tools


def schema_problems(data: object) -> list[str]:
    """What is wrong with one tool definition (empty list: valid)."""
    if not isinstance(data, dict):
        return ["a tool definition must be a JSON object"]
    problems = [f"unknown key {k!r}" for k in sorted(set(data) - {"name", "description", "parameters"})]
    if not isinstance(data.get("name"), str) or not _NAME.match(data["name"]):
        problems.append("name must match ^[a-zA-Z0-9_-]{1,64}$")
    if not isinstance(data.get("description"), str) or len(data["description"]) < 20:
        problems.append("description must be a sentence or more (the model chooses tools by it)")
    params = data.get("parameters")
    if not isinstance(params, dict) or params.get("type") != "object":
        return [*problems, 'parameters must be a JSON Schema with "type": "object"']
    props = params.get("properties", {})
    if not isinstance(props, dict):
        return [*problems, "parameters.properties must be an object"]
    for key, prop in props.items():
        if not isinstance(prop, dict) or prop.get("type") not in _TYPES:
            problems.append(f"parameters.properties.{key}.type must be one of {', '.join(sorted(_TYPES))}")
        elif not prop.get("description"):
            problems.append(f"parameters.properties.{key} needs a description")
    required = params.get("required", [])
    if not isinstance(required, list) or any(r not in props for r in required):
        problems.append("parameters.required must list names defined in parameters.properties")
    return problems
