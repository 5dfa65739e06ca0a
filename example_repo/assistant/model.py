"""The model interface and a seeded, simulated LLM whose behaviour depends on the config.

``Model`` is the one interface the app uses: ``complete(prompt, seed=...) -> Completion``.
``SimulatedModel`` implements it without any network call. It really reads the prompt (the
excerpts, the question, the system prompt's rules and examples, the tool list) and answers
from it; only *how reliably* it does so is drawn at random, from ``random.Random(seed)``, with
probabilities computed from the config. Every effect is one documented formula (README.md,
"Simulated effects"); :meth:`SimulatedModel.plan` exposes the probabilities so ``true_rates.py``
can compute exact pass rates instead of estimating them.

1. Reading (``llm.model``, ``llm.context_window``, ``llm.temperature``, ``llm.top_p``): with
   probability ``p_read = reading(model) x dilution(context_window) x sampling(temperature, top_p)``
   the model answers with the best-matching sentence of the most relevant excerpt; otherwise it
   is distracted and answers with the best sentence of another excerpt (plausible, usually wrong).
2. Prompt following (``llm.model``, ``prompts/system.md``): it ends the reply with the
   ``[policy: name]`` citation with probability ``following(model) + 0.015 per example reply that
   cites`` (at most 3) when the system prompt's rules ask for it.
3. Latency (``serving.batch_size``, ``llm.model``, ``llm.max_tokens``): a batch takes
   ``speed(model) x (0.6 + 0.35 x batch_size)`` seconds x lognormal noise (sigma 0.2); with
   probability ``1 - (1 - 0.0006)^batch_size`` the batch holds a straggler that generates up to
   ``max_tokens``, which multiplies the time by ``1 + max_tokens / 320``. Past ``serving.timeout_s``
   the call raises ``TimeoutError``.
4. Tool routing (``tools/*.json``): among the tools whose required arguments the question can
   fill (a ``pattern`` must match, e.g. an order number), it prefers one with a matched pattern,
   then the best description match; it picks that tool with probability ``routing(model)``,
   else another tool.

The random draws are taken in a fixed order whatever the branch, so one seed gives coupled
outcomes across configurations (common random numbers), as a replayed load test would.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from .config import AppConfig
from .prompting import ParsedPrompt, parse_prompt
from .retrieval import idf, overlap, terms

NOT_FOUND = "I could not find this in our policies, so I don't want to guess. I can connect you with a human agent."
NO_CONTEXT_GUESS = "This is usually handled case by case; please allow a few business days for our team to reply."


@dataclass(frozen=True)
class Completion:
    text: str
    latency_s: float


class Model(Protocol):
    """What the app needs from an LLM client."""

    def complete(self, prompt: str, *, seed: int) -> Completion:
        """Answer ``prompt``; raise ``TimeoutError`` when the call runs past its time budget."""
        ...


@dataclass(frozen=True)
class Profile:
    """How a model version behaves in the simulation (see the module docstring)."""

    reading: float  # P(answer from the most relevant excerpt), at <= 8k context and temperature <= 0.3
    following: float  # P(obey the citation rule) with the rule and no example replies
    routing: float  # P(pick the best-described tool)
    speed: float  # relative time per batch, 1.0 = gpt-4-turbo-preview


PROFILES: dict[str, Profile] = {
    "gpt-4-turbo-preview": Profile(reading=0.915, following=0.87, routing=0.96, speed=1.0),
    "gpt-4o": Profile(reading=0.935, following=0.905, routing=0.97, speed=0.8),
    "gpt-4o-mini": Profile(reading=0.86, following=0.85, routing=0.94, speed=0.5),
    "gpt-3.5-turbo": Profile(reading=0.78, following=0.72, routing=0.90, speed=0.6),
}

REFERENCE_WINDOW = 8192
DILUTION_PER_DOUBLING = 0.045
LATENCY_SIGMA = 0.2
STRAGGLER_PER_ITEM = 0.0006
TOKENS_PER_STRAGGLER_UNIT = 320


def dilution(context_window: int) -> float:
    """Reading factor of the context size: 1 up to 8k tokens, -4.5% per doubling beyond (0.91 at 32k)."""
    if context_window <= REFERENCE_WINDOW:
        return 1.0
    return max(0.5, 1.0 - DILUTION_PER_DOUBLING * math.log2(context_window / REFERENCE_WINDOW))


def sampling(temperature: float, top_p: float) -> float:
    """Reading factor of sampling: -1.2% per 0.1 of effective temperature (temperature x top_p) above 0.3."""
    return max(0.5, 1.0 - 0.12 * max(0.0, temperature * top_p - 0.3))


def citation_rate(profile: Profile, prompt: ParsedPrompt) -> float:
    """P(the reply ends with ``[policy: name]``), from the rules and the few-shot examples."""
    examples = sum(1 for reply in prompt.example_replies if "[policy:" in reply)
    if "[policy:" in prompt.instructions:
        return min(0.995, profile.following + 0.015 * min(examples, 3))
    return min(0.9, 0.3 + 0.1 * examples) if examples else 0.02


@dataclass(frozen=True)
class Latency:
    """The latency distribution of one call: a lognormal around ``median_s``, mixed with stragglers."""

    median_s: float
    straggler_p: float
    straggler_factor: float
    timeout_s: float

    def cdf(self, seconds: float) -> float:
        """P(latency <= seconds)."""
        def phi(x: float) -> float:
            return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))

        z = math.log(seconds / self.median_s) / LATENCY_SIGMA
        z_slow = math.log(seconds / (self.median_s * self.straggler_factor)) / LATENCY_SIGMA
        return (1.0 - self.straggler_p) * phi(z) + self.straggler_p * phi(z_slow)

    @property
    def p_timeout(self) -> float:
        return 1.0 - self.cdf(self.timeout_s)

    def draw(self, z: float, u: float) -> float:
        slow = self.straggler_factor if u < self.straggler_p else 1.0
        return self.median_s * math.exp(LATENCY_SIGMA * z) * slow


@dataclass(frozen=True)
class Plan:
    """The outcome distribution of one prompt, without latency.

    With probability ``p_best`` the reply is ``best``; otherwise one of ``others`` (uniformly;
    ``fallback`` when there is none). Each reply is (text, policy cited if the model cites);
    the citation is appended with probability ``p_cite``.
    """

    p_best: float
    best: tuple[str, str]
    others: tuple[tuple[str, str], ...]
    fallback: tuple[str, str]
    p_cite: float

    def replies(self) -> list[tuple[float, str, str]]:
        """Every possible reply before the citation, as (probability, text, policy)."""
        if not self.others:
            return [(self.p_best, *self.best), (1.0 - self.p_best, *self.fallback)]
        share = (1.0 - self.p_best) / len(self.others)
        return [(self.p_best, *self.best)] + [(share, *o) for o in self.others]


class SimulatedModel:
    """A seeded stochastic stand-in for a chat model; see the module docstring for the effects."""

    def __init__(self, config: AppConfig) -> None:
        llm = config.llm
        if llm.model not in PROFILES:
            raise ValueError(f"the simulation knows models {', '.join(sorted(PROFILES))}; got llm.model={llm.model!r}")
        self.profile = PROFILES[llm.model]
        self.p_read = self.profile.reading * dilution(llm.context_window) * sampling(llm.temperature, llm.top_p)
        batch = config.serving.batch_size
        self.latency = Latency(
            median_s=self.profile.speed * (0.6 + 0.35 * batch),
            straggler_p=1.0 - (1.0 - STRAGGLER_PER_ITEM) ** batch,
            straggler_factor=1.0 + llm.max_tokens / TOKENS_PER_STRAGGLER_UNIT,
            timeout_s=config.serving.timeout_s,
        )
        self._plans: dict[str, Plan] = {}  # plan() is a pure function of the prompt

    def plan(self, prompt: str) -> Plan:
        """The reply distribution for ``prompt`` (exact; ``complete`` samples from it)."""
        if prompt not in self._plans:
            parsed = parse_prompt(prompt)
            self._plans[prompt] = self._route(parsed) if parsed.is_routing else self._answer(parsed)
        return self._plans[prompt]

    def complete(self, prompt: str, *, seed: int) -> Completion:
        rng = random.Random(seed)
        z, u_slow, u_best, u_pick, u_cite = rng.gauss(0.0, 1.0), rng.random(), rng.random(), rng.random(), rng.random()
        latency = self.latency.draw(z, u_slow)
        if latency > self.latency.timeout_s:
            raise TimeoutError(f"model call took {latency:.1f}s, over the {self.latency.timeout_s:g}s timeout")
        plan = self.plan(prompt)
        if u_best < plan.p_best:
            text, policy = plan.best
        elif plan.others:
            text, policy = plan.others[min(int(u_pick * len(plan.others)), len(plan.others) - 1)]
        else:
            text, policy = plan.fallback
        if policy and u_cite < plan.p_cite:
            text = f"{text} [policy: {policy}]"
        return Completion(text, round(latency, 3))

    def _answer(self, prompt: ParsedPrompt) -> Plan:
        query = set(terms(prompt.question))
        sentences = [(s, e.policy) for e in prompt.excerpts for s in e.sentences]
        weights = idf(terms(s) for s, _ in sentences)
        picks = []  # the best sentence of each excerpt, with its score
        for excerpt in prompt.excerpts:
            scored = [(overlap(query, terms(s), weights), -i, s) for i, s in enumerate(excerpt.sentences)]
            score, _, sentence = max(scored)
            picks.append((score, sentence, excerpt.policy))
        p_cite = citation_rate(self.profile, prompt)
        if not picks or max(p[0] for p in picks) == 0:
            return Plan(1.0, (NOT_FOUND, "none"), (), (NOT_FOUND, "none"), p_cite)
        focus = max(range(len(picks)), key=lambda i: (picks[i][0], -i))
        best = (picks[focus][1], picks[focus][2])
        others = tuple((s, p) for i, (_, s, p) in enumerate(picks) if i != focus and s != best[0])
        return Plan(self.p_read, best, others, (NO_CONTEXT_GUESS, ""), p_cite)

    def _route(self, prompt: ParsedPrompt) -> Plan:
        """Prefer tools whose required arguments the question can fill, then the best description.

        A required string argument with a ``pattern`` is fillable only if the question contains a
        match (an order number for ``lookup_order``); such a match is strong evidence for the tool.
        """
        query = set(terms(prompt.question))
        described = [terms(t.name.replace("_", " ") + " " + t.description) for t in prompt.tools]
        weights = idf(described)
        keys = [
            (*_fillable(t.parameters, prompt.question), overlap(query, d, weights))
            for t, d in zip(prompt.tools, described, strict=True)
        ]
        best = max(range(len(keys)), key=lambda i: (keys[i], -i))
        tied = keys.count(keys[best]) > 1
        p_best = 1.0 / len(keys) if tied else self.profile.routing
        others = tuple((f"TOOL: {t.name}", "") for i, t in enumerate(prompt.tools) if i != best)
        return Plan(p_best, (f"TOOL: {prompt.tools[best].name}", ""), others, ("TOOL: none", ""), 0.0)


def _fillable(parameters: dict[str, Any], question: str) -> tuple[bool, bool]:
    """(every required argument can be filled from the question, one of them matched a pattern)."""
    props = parameters.get("properties", {})
    matched = False
    for name in parameters.get("required", []):
        pattern = props.get(name, {}).get("pattern")
        if pattern:
            if not re.search(pattern.strip("^$"), question):
                return False, False
            matched = True
    return True, matched


def exact_pass_rate(plan: Plan, passes: Sequence[str]) -> float:
    """P(a reply contains one of ``passes``, case-insensitive), citation ignored."""
    wanted = [p.lower() for p in passes]
    return sum(prob for prob, text, _ in plan.replies() if any(w in text.lower() for w in wanted))
