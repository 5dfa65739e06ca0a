"""Every ``--rollout-*`` option and ``rollout_*`` ini key: declared here, read and checked once into ``Options``.

Precedence is pytest-timeout's: the command line, else the ini file, else the default. Ini path
values are relative to the ini file, as pytest's own path ini keys are. A bad value is a usage
error now, before any eval spends its budget.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CHOICES = {
    "rollout_inconclusive": ("fail", "pass"),
    "rollout_correction": ("bonferroni", "sidak", "none"),
    "rollout_missing_baseline": ("fail", "skip"),
}
_PATH_KEYS = frozenset({"rollout_config", "rollout_report", "rollout_store"})


def _layers_list(value: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in value.split(",") if n.strip())
    if not names:
        raise argparse.ArgumentTypeError("expected a comma-separated list of layers, e.g. prompt,model")
    return names


def parse_seed(value: str) -> int:
    try:
        seed = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an integer seed") from None
    if not 0 <= seed < 2**63:
        raise argparse.ArgumentTypeError(f"{value!r}: the seed must be between 0 and 2**63-1")
    return seed


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("rollout", "pytest-rollout: sequenced releases of AI systems")
    group.addoption(
        "--rollout-gate",
        action="store_true",
        default=None,
        dest="rollout_gate",
        help="Diff the AI config between base and head, block coupled releases, run only moved layers' evals",
    )
    group.addoption(
        "--rollout-base",
        dest="rollout_base",
        metavar="REF",
        help="Base ref of the release (default: settings `base`, GITHUB_BASE_REF, upstream, origin/HEAD)",
    )
    group.addoption(
        "--rollout-head", dest="rollout_head", metavar="REF", help="Head ref of the release (default: HEAD)"
    )
    group.addoption(
        "--rollout-config",
        dest="rollout_config",
        metavar="PATH",
        help="Settings file (default: rollout.yaml, then [tool.pytest-rollout] in pyproject.toml)",
    )
    group.addoption(
        "--rollout-allow-bundle",
        dest="rollout_allow_bundle",
        metavar="REASON",
        help="Let a release that moves several coupled layers through, recording REASON",
    )
    group.addoption(
        "--rollout-per-commit",
        action="store_true",
        default=None,
        dest="rollout_per_commit",
        help="Also judge each commit of the release on its own",
    )
    group.addoption(
        "--rollout-report",
        dest="rollout_report",
        metavar="PATH",
        help="Write the JSON report (changes, decision, eval verdicts) to PATH",
    )
    group.addoption(
        "--rollout-layers",
        dest="rollout_layers",
        type=_layers_list,
        metavar="A,B",
        help="Also run the evals of these layers, whether or not they moved (added to the moved layers)",
    )
    group.addoption(
        "--rollout-seed",
        dest="rollout_seed",
        type=parse_seed,
        metavar="INT",
        help="Seed for trial seeds and case order (default: random, printed in the header)",
    )
    group.addoption(
        "--rollout-inconclusive",
        dest="rollout_inconclusive",
        choices=CHOICES["rollout_inconclusive"],
        help="How an eval that spent its budget undecided counts (default: fail)",
    )
    group.addoption(
        "--rollout-correction",
        dest="rollout_correction",
        choices=CHOICES["rollout_correction"],
        help="Family-wise false-FAIL control across evals (default: bonferroni)",
    )
    group.addoption(
        "--rollout-store",
        dest="rollout_store",
        metavar="PATH",
        help="Baseline store: a file or a postgresql:// URL (default: $ROLLOUT_STORE, else .rollout/store.sqlite)",
    )
    group.addoption(
        "--rollout-record",
        action="store_true",
        default=None,
        dest="rollout_record",
        help="Record this session's eval outcomes as the baseline of HEAD",
    )
    group.addoption(
        "--rollout-full-budget",
        action="store_true",
        default=None,
        dest="rollout_full_budget",
        help="Run every eval to its full budget on its absolute criterion, no early stop and no baseline "
        "(pytest-rollout attribute pairs these trials across configurations)",
    )
    group.addoption(
        "--rollout-missing-baseline",
        dest="rollout_missing_baseline",
        choices=CHOICES["rollout_missing_baseline"],
        help="What a max_regression eval without a baseline does (default: fail)",
    )
    group.addoption(
        "--rollout-baseline",
        dest="rollout_baseline",
        metavar="RUN|COMMIT",
        help="Compare max_regression evals with this recorded run (run:N, see `pytest-rollout baseline list`) "
        "or commit, not the oldest eligible one: a replay then compares with exactly the same baseline",
    )
    group.addoption(
        "--rollout-drift",
        action="store_true",
        default=None,
        dest="rollout_drift",
        help="Run max_regression evals against the latest baseline with HEAD's fingerprints",
    )

    group.addoption(
        "--rollout-shard",
        dest="rollout_shard",
        metavar="I/N",
        help="Run shard I of N of the selected tests (balanced by eval budget; the family correction spans all shards)",
    )

    group.addoption(
        "--rollout-deployed",
        dest="rollout_deployed",
        metavar="REF",
        help="The deployed release: a tag glob, a branch or a ref (default: settings release.deployed)",
    )
    group.addoption(
        "--rollout-deploy",
        action="store_true",
        default=None,
        dest="rollout_deploy",
        help="With --rollout-gate, judge the deploy of head: the window deployed..head",
    )

    parser.addini("rollout_deployed", "The deployed release (as --rollout-deployed)", default="")
    parser.addini("rollout_gate", "Turn the gate on (as --rollout-gate)", type="bool", default=False)
    parser.addini("rollout_base", "Base ref of the release when nothing else names one (as --rollout-base)", default="")
    parser.addini("rollout_config", "Settings file, relative to the ini file (as --rollout-config)", default="")
    parser.addini("rollout_per_commit", "Also judge each commit (as --rollout-per-commit)", type="bool", default=False)
    parser.addini("rollout_report", "JSON report path, relative to the ini file (as --rollout-report)", default="")
    parser.addini("rollout_seed", "Seed for trials and case order (as --rollout-seed)", default="")
    parser.addini("rollout_inconclusive", "How an undecided eval counts: fail (default) or pass", default="fail")
    parser.addini(
        "rollout_correction", "Family-wise control: bonferroni (default), sidak or none", default="bonferroni"
    )
    parser.addini("rollout_store", "Baseline store path, relative to the ini file (as --rollout-store)", default="")
    parser.addini(
        "rollout_missing_baseline", "max_regression without a baseline: fail (default) or skip", default="fail"
    )
    parser.addini("rollout_baseline", "Pin the baseline run or commit (as --rollout-baseline)", default="")


def _is_url(value: str) -> bool:
    """A store given as a PostgreSQL URL is not a path: never resolved against a folder."""
    return str(value).startswith(("postgresql://", "postgres://"))


def setting(config: pytest.Config, name: str) -> Any:
    """CLI value, else ini value; ini paths relative to the ini file; choices are checked."""
    value = config.getoption(name, default=None)
    if value is not None and name in _PATH_KEYS and not _is_url(value):
        from pytest_rollout.gate.invocation import resolve_option_path

        value = resolve_option_path(value, config.invocation_params.dir)  # never the rootdir
    if value is None:
        try:
            value = config.getini(name)
        except ValueError:
            return None
        value = value or None
        if value and name in _PATH_KEYS and not Path(value).is_absolute() and not _is_url(value):
            value = str((config.inipath.parent if config.inipath else config.invocation_params.dir) / value)
    choices = CHOICES.get(name)
    if choices and value is not None and value not in choices:
        raise pytest.UsageError(f"ini {name} = {value!r}: expected one of {', '.join(choices)}")
    return value


@dataclass(frozen=True)
class Options:
    """The session's ``--rollout-*`` values, read once (CLI > ini > default) and checked."""

    gate: bool
    base: str | None  # --rollout-base on the command line: names the window outright
    fallback_base: str | None  # ini rollout_base: used only when nothing else names a base
    head: str | None
    config: str | None
    allow_bundle: str | None
    per_commit: bool
    report: Path | None  # resolved now: tests may chdir
    forced_layers: tuple[str, ...] | None
    seed: int | None  # None: a random seed, drawn once on the controller
    inconclusive: str
    correction: str
    store: str | None
    record: bool
    full_budget: bool
    missing_baseline: str
    baseline: str | None  # --rollout-baseline: a pinned run or commit
    drift: bool
    is_worker: bool
    shard: tuple[int, int] | None  # (index, count) with --rollout-shard I/N
    start: Path  # where the git repository is looked for: the invocation folder or first test path, never the rootdir
    deployed: str | None = None  # overrides release.deployed (gate/releases.py)
    deploy: bool = False  # the deploy gate: deployed..head

    @property
    def repo_hint(self) -> Path:
        """The folder the gate, recording and baselines find the repository from."""
        return self.start

    @classmethod
    def read(cls, config: pytest.Config) -> Options:
        _refuse_ini_window(config)
        base = config.getoption("rollout_base", default=None)
        if base == "":
            raise pytest.UsageError(
                "rollout: --rollout-base is empty (an unset CI variable?): name a ref, or leave it out"
            )
        report = setting(config, "rollout_report")
        options = cls(
            gate=bool(setting(config, "rollout_gate")),
            base=base,
            fallback_base=setting(config, "rollout_base"),
            head=config.getoption("rollout_head", default=None),
            config=setting(config, "rollout_config"),
            allow_bundle=config.getoption("rollout_allow_bundle", default=None),
            per_commit=bool(setting(config, "rollout_per_commit")),
            report=Path(report).resolve() if report else None,
            forced_layers=config.getoption("rollout_layers", default=None),
            seed=_read_seed(config),
            inconclusive=setting(config, "rollout_inconclusive") or "fail",
            correction=setting(config, "rollout_correction") or "bonferroni",
            store=setting(config, "rollout_store"),
            record=bool(config.getoption("rollout_record", default=None)),
            full_budget=bool(config.getoption("rollout_full_budget", default=None)),
            missing_baseline=setting(config, "rollout_missing_baseline") or "fail",
            baseline=setting(config, "rollout_baseline"),
            drift=bool(config.getoption("rollout_drift", default=None)),
            is_worker=hasattr(config, "workerinput"),
            shard=_read_shard(config),
            start=_start(config),
            deployed=setting(config, "rollout_deployed"),
            deploy=bool(config.getoption("rollout_deploy", default=None)),
        )
        if options.deploy and not options.gate:
            raise pytest.UsageError("rollout: --rollout-deploy judges a deploy with the gate: add --rollout-gate")
        if report and not options.is_worker:
            _check_writable(config.getoption("rollout_report", default=None) or report, options.report)
        return options

    @property
    def scoped(self) -> bool:
        """Whether evals are selected by layer (the gate, or forced layers)."""
        return self.gate or self.forced_layers is not None

    def draw_seed(self) -> int:
        return self.seed if self.seed is not None else int.from_bytes(os.urandom(4), "big")


def _read_shard(config: pytest.Config) -> tuple[int, int] | None:
    value = config.getoption("rollout_shard", default=None)
    if value is None:
        return None
    from pytest_rollout.errors import RolloutError
    from pytest_rollout.evals.shards import parse_shard

    try:
        return parse_shard(value)
    except RolloutError as exc:
        raise pytest.UsageError(f"rollout: {exc}") from None


def _start(config: pytest.Config) -> Path:
    from pytest_rollout.gate.invocation import repo_start

    given = config.args if config.args_source == pytest.Config.ArgsSource.ARGS else []
    return repo_start(config.invocation_params.dir, given)


def _refuse_ini_window(config: pytest.Config) -> None:
    """A release must not name its own window or approve its own bundle through its ini's addopts."""
    from pytest_rollout.gate.invocation import WINDOW_FLAGS, from_ini

    given = [f for f in WINDOW_FLAGS if config.getoption(f[2:].replace("-", "_"), default=None) is not None]
    chosen = from_ini(given, config.invocation_params.args, os.environ.get("PYTEST_ADDOPTS", ""))
    if chosen:
        where = config.inipath.name if config.inipath else "the ini file"
        raise pytest.UsageError(
            f"rollout: {', '.join(chosen)} comes from addopts in {where}: a release must not choose its own "
            "window or approve its own bundle; pass it on the command line or in PYTEST_ADDOPTS"
        )


def _read_seed(config: pytest.Config) -> int | None:
    value = setting(config, "rollout_seed")
    if value is None or isinstance(value, int):
        return value
    try:
        return parse_seed(str(value))
    except argparse.ArgumentTypeError as exc:
        raise pytest.UsageError(f"rollout_seed: {exc}") from None


def _check_writable(given: str, path: Path | None) -> None:
    """Fail before the evals spend their budget, not after."""
    assert path is not None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise pytest.UsageError(f"rollout: --rollout-report {given}: cannot create its folder ({exc})") from None
    if path.is_dir() or not os.access(path.parent, os.W_OK):
        raise pytest.UsageError(f"rollout: --rollout-report {given}: not a writable file path")
