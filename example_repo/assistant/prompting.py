"""The prompt format: how the app writes prompts, and how a model (the simulated one) reads them.

Two kinds of prompt, both plain text so any chat-completion API can take them:

* answer prompts: the system prompt, the retrieved excerpts in ``<context>`` and the question;
* routing prompts: the system prompt, the tools in ``<tools>`` (description and parameter
  schema, as function-calling APIs send them) and the question, asking for ``TOOL: <name>``.

Tags rather than Markdown headings, so that the system prompt's own headings never collide.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .retrieval import Chunk

EXAMPLES_HEADING = "## Examples"
CITATION = re.compile(r"\[policy: ([a-z_]+)\]")
TOOL_REPLY = re.compile(r"TOOL:\s*([a-z_]+)")
_EXCERPT = re.compile(r'<excerpt id="([^"]+)" policy="([^"]+)">(.*?)</excerpt>', re.S)
_TOOL = re.compile(r'<tool name="([^"]+)">(.*?)\nparameters: (.*?)</tool>', re.S)


def _tag(name: str, text: str) -> re.Match[str] | None:
    return re.search(rf"<{name}>\n?(.*?)\n?</{name}>", text, re.S)


def answer_prompt(system: str, chunks: Sequence[Chunk], question: str) -> str:
    excerpts = "\n".join(
        f'<excerpt id="{c.label}" policy="{c.policy}">{html.escape(c.text, quote=False)}</excerpt>' for c in chunks
    )
    return f"{system.strip()}\n\n<context>\n{excerpts}\n</context>\n\n<question>\n{question.strip()}\n</question>\n"


def routing_prompt(system: str, tools: Sequence[ToolSpec], question: str) -> str:
    listed = "\n".join(
        f'<tool name="{t.name}">{html.escape(t.description, quote=False)}\n'
        f"parameters: {html.escape(json.dumps(t.parameters, sort_keys=True), quote=False)}</tool>"
        for t in tools
    )
    return (
        f"{system.strip()}\n\n<tools>\n{listed}\n</tools>\n\n<question>\n{question.strip()}\n</question>\n\n"
        "Reply with the one tool to call, as TOOL: <name>.\n"
    )


@dataclass(frozen=True)
class ToolSpec:
    """A tool as the model sees it: name, description and JSON Schema of its parameters."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class Excerpt:
    label: str
    policy: str
    sentences: tuple[str, ...]


@dataclass(frozen=True)
class ParsedPrompt:
    """What a reader of the prompt sees: instructions, few-shot examples, excerpts or tools, question."""

    instructions: str
    example_replies: tuple[str, ...]
    question: str
    excerpts: tuple[Excerpt, ...] = ()
    tools: tuple[ToolSpec, ...] = ()

    @property
    def is_routing(self) -> bool:
        return bool(self.tools)


def parse_prompt(prompt: str) -> ParsedPrompt:
    """Split a prompt written by :func:`answer_prompt` or :func:`routing_prompt`."""
    question = _tag("question", prompt)
    if question is None:
        raise ValueError("prompt has no <question> section")
    system = prompt[: min(i for i in (prompt.find("<context>"), prompt.find("<tools>"), len(prompt)) if i >= 0)]
    instructions, _, examples = system.partition(EXAMPLES_HEADING)
    replies = tuple(m.group(1) for m in re.finditer(r"^Assistant:(.*(?:\n(?!User:|\n).*)*)", examples, re.M))
    context, tools = _tag("context", prompt), _tag("tools", prompt)
    excerpts = tuple(
        Excerpt(label, policy, tuple(_sentences(html.unescape(text))))
        for label, policy, text in (_EXCERPT.findall(context.group(1)) if context else [])
    )
    listed = tuple(
        ToolSpec(n, html.unescape(d), json.loads(html.unescape(s)))
        for n, d, s in (_TOOL.findall(tools.group(1)) if tools else [])
    )
    return ParsedPrompt(instructions, replies, question.group(1).strip(), excerpts, listed)


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s]


def cited_policies(text: str) -> tuple[str, ...]:
    """Policy names cited as ``[policy: name]`` in a reply, in order."""
    return tuple(CITATION.findall(text))
