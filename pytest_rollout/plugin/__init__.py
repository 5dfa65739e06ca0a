"""pytest11 entry point: options, markers, the ``trial`` fixture, and the three plugins by role.

``pytest_configure`` reads the options once and registers, as pytest registers its own
``stepwise`` and ``cacheprovider``: ``GatePlugin`` (the release, judged once on the controller),
``EvalPlugin`` (markers, selection, trials, recording) and ``OutputsPlugin`` (report, GitHub
outputs, terminal summary). Nothing heavy is imported at load time, so a run without
``--rollout-gate`` and without evals costs next to nothing.
"""

from __future__ import annotations

from typing import Any

import pytest

from pytest_rollout.plugin.evals import EvalPlugin
from pytest_rollout.plugin.gate import GatePlugin
from pytest_rollout.plugin.options import Options, add_options
from pytest_rollout.plugin.outputs import OutputsPlugin
from pytest_rollout.plugin.progress import ProgressPlugin
from pytest_rollout.plugin.release import GATE_NODE, SPEC_KEY, STATE_KEY

__all__ = ["GATE_NODE", "STATE_KEY", "trial"]

LAYER_MARKER = (
    "layer(*names): the AI-system layers this eval measures (infra, model, params, context, prompt, tools, "
    "app, or the settings' layers); under --rollout-gate it runs only when one of them moved"
)
EVAL_MARKER = (
    "eval(trials, pass_rate=None, min_score=None, max_regression=None, confidence=0.95, margin=0.05, "
    "power=None, cases=None, epochs=1, concurrency=1, timeout=None, errors=None, max_error_rate=0.1, retries=0, "
    "retry_on=None, backoff=1.0, max_cost=None): run the test as repeated trials with a sequential statistical "
    "verdict (PASS, FAIL, INCONCLUSIVE, ERROR, COST_LIMIT)"
)


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", LAYER_MARKER)
    config.addinivalue_line("markers", EVAL_MARKER)
    options = Options.read(config)  # CLI > ini > default, checked now: a typo fails before any eval
    config.pluginmanager.register(GatePlugin(config, options), "rollout-gate")
    config.pluginmanager.register(EvalPlugin(config, options), "rollout-evals")
    config.pluginmanager.register(OutputsPlugin(config, options), "rollout-outputs")
    config.pluginmanager.register(ProgressPlugin(config, options), "rollout-progress")


@pytest.fixture
def trial(request: pytest.FixtureRequest) -> Any:
    """The current trial of an ``@pytest.mark.eval`` test: index, seed, case, score(x), note(text), usage(...).

    The eval runner calls the test body once per trial with a fresh ``Trial``;
    this value only stands in while pytest resolves fixtures.
    """
    if SPEC_KEY not in request.node.stash:
        raise pytest.UsageError(
            f"{request.node.nodeid}: the `trial` fixture needs @pytest.mark.eval(trials=..., pass_rate=...) on the test"
        )
    return _TrialStandIn(request.node.nodeid)


class _TrialStandIn:
    """What a *fixture* that requests ``trial`` gets: fixtures are set up once per eval,
    so one value would serve every trial and the statistics would be meaningless."""

    def __init__(self, nodeid: str) -> None:
        self._nodeid = nodeid

    def __getattr__(self, name: str) -> Any:
        raise pytest.UsageError(
            f"{self._nodeid}: `trial` is only valid inside the eval's test body: fixtures are set up once per "
            "eval, so a fixture that reads trial.seed would see one value for every trial; "
            "pass the trial from the test body instead (e.g. make the fixture a factory)"
        )
