"""The support assistant: retrieve policy excerpts, prompt the model, return a reply.

The model is the only moving part that talks to the outside world, and it enters in exactly
one place: ``Assistant(config, model=...)``, defaulting to :func:`default_model`. To run the
same app (and its evals) against a real provider, pass a client that implements
``model.Model`` (README.md, "Using a real model") or change :func:`default_model`.
"""

from __future__ import annotations

from dataclasses import dataclass

from .config import AppConfig
from .model import Model, SimulatedModel
from .prompting import TOOL_REPLY, answer_prompt, cited_policies, routing_prompt
from .retrieval import Chunk, Retriever, load_chunks
from .tools import load_tools

SYSTEM_PROMPT = "prompts/system.md"
POLICY_DIR = "policies"  # inside this package: the knowledge base ships with the app
TOOLS_DIR = "tools"


def default_model(config: AppConfig) -> Model:
    """The one place that decides which model client the app uses."""
    return SimulatedModel(config)


@dataclass(frozen=True)
class Reply:
    text: str
    latency_s: float
    cited: bool  # the reply names at least one known policy as [policy: name]
    policies: tuple[str, ...]  # the policies it cites


class Assistant:
    """Answers customer questions from the policy documents, with a pluggable model."""

    def __init__(self, config: AppConfig, model: Model | None = None) -> None:
        self.config = config
        self.model = model if model is not None else default_model(config)
        self.system_prompt = (config.root / SYSTEM_PROMPT).read_text(encoding="utf-8")
        chunks = load_chunks(config.root / "assistant" / POLICY_DIR, config.retrieval.chunk_size)
        self.policy_names = frozenset(c.policy for c in chunks)
        self.retriever = Retriever(chunks)
        self.tools = load_tools(config.root / TOOLS_DIR)
        self._prompts: dict[str, str] = {}  # retrieval is deterministic: build each prompt once

    def retrieve(self, question: str) -> list[Chunk]:
        return self.retriever.search(question, self.config.retrieval.top_k)

    def prompt_for(self, question: str) -> str:
        if question not in self._prompts:
            self._prompts[question] = answer_prompt(self.system_prompt, self.retrieve(question), question)
        return self._prompts[question]

    def answer(self, question: str, seed: int) -> Reply:
        """One answer; ``TimeoutError`` (or the client's own errors) propagate to the caller."""
        completion = self.model.complete(self.prompt_for(question), seed=seed)
        cited = tuple(p for p in cited_policies(completion.text) if p in self.policy_names)
        return Reply(completion.text, completion.latency_s, bool(cited), cited)

    def routing_prompt_for(self, question: str) -> str:
        return routing_prompt(self.system_prompt, self.tools, question)

    def choose_tool(self, question: str, seed: int) -> str | None:
        """The tool the model would call for ``question`` (None if its reply names no known tool)."""
        completion = self.model.complete(self.routing_prompt_for(question), seed=seed)
        match = TOOL_REPLY.search(completion.text)
        names = {t.name for t in self.tools}
        return match.group(1) if match and match.group(1) in names else None
