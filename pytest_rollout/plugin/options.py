"""Every ``--rollout-*`` option and ``rollout_*`` ini key: declared here, read and checked once into ``Options``.

Precedence is pytest-timeout's: the command line, else the ini file, else the default. Ini path
values are relative to the ini file, as pytest's own path ini keys are. A bad value is a usage
error now, before any eval spends its budget.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pytest_rollout.evals.seeds import parse_seed

_PATH_KEYS = frozenset({"rollout_config", "rollout_report", "rollout_store", "rollout_html"})


def parse_failures(value: str) -> int:
    try:
        count = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of failing trials (an int >= 0)") from None
    if count < 0:
        raise argparse.ArgumentTypeError(f"{value!r}: the number of failing trials shown must be >= 0")
    return count


def _layers_list(value: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in value.split(",") if n.strip())
    if not names:
        raise argparse.ArgumentTypeError("expected a comma-separated list of layers, e.g. prompt,model")
    return names


@dataclass(frozen=True)
class Opt:
    """One row of the table: a ``--rollout-*`` option and, when it has one, its ``rollout_*`` ini key."""

    flag: str
    help: str
    metavar: str | None = None  # neither metavar nor choices: a flag (store_true)
    type: Callable[[str], Any] | None = None
    choices: tuple[str, ...] = ()  # the first is the ini default
    ini: str | None = None  # the ini key's help; None: no ini key (window and approval flags never have one)

    @property
    def dest(self) -> str:
        return self.flag[2:].replace("-", "_")

    @property
    def is_flag(self) -> bool:
        return self.metavar is None and not self.choices


#: Every option, in ``--help`` order. A row with ``ini`` is also an ini key of the same name.
OPTIONS: tuple[Opt, ...] = (
    Opt(
        "--rollout-gate",
        "Diff the AI config between base and head, block coupled releases, run only moved layers' evals",
        ini="Turn the gate on (as --rollout-gate)",
    ),
    Opt(
        "--rollout-base",
        "Base ref of the release (default: settings `base`, GITHUB_BASE_REF, upstream, origin/HEAD)",
        "REF",
        ini="Base ref of the release when nothing else names one (as --rollout-base)",
    ),
    Opt("--rollout-head", "Head ref of the release (default: HEAD)", "REF"),
    Opt(
        "--rollout-config",
        "Settings file (default: rollout.yaml, then [tool.pytest-rollout] in pyproject.toml)",
        "PATH",
        ini="Settings file, relative to the ini file (as --rollout-config)",
    ),
    Opt(
        "--rollout-allow-bundle", "Let a release that moves several coupled layers through, recording REASON", "REASON"
    ),
    Opt(
        "--rollout-per-commit",
        "Also judge each commit of the release on its own",
        ini="Also judge each commit (as --rollout-per-commit)",
    ),
    Opt(
        "--rollout-report",
        "Write the JSON report (changes, decision, eval verdicts) to PATH",
        "PATH",
        ini="JSON report path, relative to the ini file (as --rollout-report)",
    ),
    Opt(
        "--rollout-html",
        "Write the HTML report (one static page: verdicts, plots, per-case tables) to PATH",
        "PATH",
        ini="HTML report path, relative to the ini file (as --rollout-html)",
    ),
    Opt(
        "--rollout-progress",
        "Eval progress: live (a line per eval, rewritten as trials finish), lines (a line per finished "
        "eval), off; default auto: live on a terminal, lines under CI, off under -q",
        choices=("auto", "live", "lines", "off"),
        ini="Eval progress: auto (default), live, lines or off",
    ),
    Opt(
        "--rollout-layers",
        "Also run these layers' evals (under the gate: besides the moved ones; without it: only these)",
        "A,B",
        type=_layers_list,
    ),
    Opt(
        "--rollout-seed",
        "Seed for trial seeds and case order (default: random, printed in the header)",
        "INT",
        type=parse_seed,
        ini="Seed for trials and case order (as --rollout-seed)",
    ),
    Opt(
        "--rollout-inconclusive",
        "How an eval that spent its budget undecided counts (default: fail)",
        choices=("fail", "pass"),
        ini="How an undecided eval counts: fail (default) or pass",
    ),
    Opt(
        "--rollout-correction",
        "Family-wise false-FAIL control across evals (default: bonferroni)",
        choices=("bonferroni", "sidak", "none"),
        ini="Family-wise control: bonferroni (default), sidak or none",
    ),
    Opt(
        "--rollout-store",
        "Baseline store: a file or a postgresql:// URL (default: $ROLLOUT_STORE, else .rollout/store.sqlite)",
        "PATH",
        ini="Baseline store path, relative to the ini file (as --rollout-store)",
    ),
    Opt("--rollout-record", "Record this session's eval outcomes as the baseline of HEAD"),
    Opt(
        "--rollout-full-budget",
        "Run every eval to its full budget on its absolute criterion, no early stop and no baseline "
        "(pytest-rollout attribute pairs these trials across configurations)",
    ),
    Opt(
        "--rollout-missing-baseline",
        "What a max_regression eval without a baseline does (default: fail)",
        choices=("fail", "skip"),
        ini="max_regression without a baseline: fail (default) or skip",
    ),
    Opt(
        "--rollout-baseline",
        "Compare max_regression evals with this recorded run (run:N, see `pytest-rollout baseline list`) "
        "or commit, not the oldest eligible one: a replay then compares with exactly the same baseline",
        "RUN|COMMIT",
        ini="Pin the baseline run or commit (as --rollout-baseline)",
    ),
    Opt("--rollout-drift", "Run max_regression evals against the latest baseline with HEAD's fingerprints"),
    Opt(
        "--rollout-failures",
        "Failing trials shown per eval, with their seeds and notes (default: 3)",
        "N",
        type=parse_failures,
        ini="Failing trials shown per eval (as --rollout-failures)",
    ),
    Opt(
        "--rollout-shard",
        "Run shard I of N of the selected tests (balanced by eval budget; the family correction spans all shards)",
        "I/N",
    ),
    Opt(
        "--rollout-deployed",
        "The deployed release: a tag glob, a branch or a ref (default: settings release.deployed)",
        "REF",
        ini="The deployed release where the settings name none (release.deployed wins: the ini comes with the PR)",
    ),
    Opt("--rollout-deploy", "With --rollout-gate, judge the deploy of head: the window deployed..head"),
)

#: What each choice option and ini key accepts (``setting`` checks ini values against it).
CHOICES = {o.dest: o.choices for o in OPTIONS if o.choices}


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("rollout", "pytest-rollout: sequenced releases of AI systems")
    for opt in OPTIONS:
        if opt.is_flag:
            group.addoption(opt.flag, action="store_true", default=None, dest=opt.dest, help=opt.help)
        else:
            kwargs: dict[str, Any] = {"choices": opt.choices} if opt.choices else {"metavar": opt.metavar}
            if opt.type is not None:
                kwargs["type"] = opt.type
            group.addoption(opt.flag, dest=opt.dest, help=opt.help, **kwargs)
        if opt.ini is not None:
            if opt.is_flag:
                parser.addini(opt.dest, opt.ini, type="bool", default=False)
            else:
                parser.addini(opt.dest, opt.ini, default=opt.choices[0] if opt.choices else "")


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
    html: Path | None  # --rollout-html, resolved now
    progress: str  # auto, live, lines, off
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
    deployed: str | None = None  # --rollout-deployed: overrides release.deployed (gate/releases.py)
    fallback_deployed: str | None = None  # ini rollout_deployed: used only where the settings name none
    deploy: bool = False  # the deploy gate: deployed..head
    failures: int = 3  # failing trials shown per eval (--rollout-failures)

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
        html = setting(config, "rollout_html")
        options = cls(
            gate=bool(setting(config, "rollout_gate")),
            base=base,
            fallback_base=setting(config, "rollout_base"),
            head=config.getoption("rollout_head", default=None),
            config=setting(config, "rollout_config"),
            allow_bundle=config.getoption("rollout_allow_bundle", default=None),
            per_commit=bool(setting(config, "rollout_per_commit")),
            report=Path(report).resolve() if report else None,
            html=Path(html).resolve() if html else None,
            progress=setting(config, "rollout_progress") or "auto",
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
            deployed=config.getoption("rollout_deployed", default=None),
            fallback_deployed=setting(config, "rollout_deployed"),
            deploy=bool(config.getoption("rollout_deploy", default=None)),
            failures=_read_failures(config),
        )
        if options.deploy and not options.gate:
            raise pytest.UsageError("rollout: --rollout-deploy judges a deploy with the gate: add --rollout-gate")
        if report and not options.is_worker:
            _check_writable(
                "--rollout-report", config.getoption("rollout_report", default=None) or report, options.report
            )
        if html and not options.is_worker:
            _check_writable("--rollout-html", config.getoption("rollout_html", default=None) or html, options.html)
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


def _read_failures(config: pytest.Config) -> int:
    value = setting(config, "rollout_failures")
    if value is None or isinstance(value, int):
        return 3 if value is None else value
    try:
        return parse_failures(str(value))
    except argparse.ArgumentTypeError as exc:
        raise pytest.UsageError(f"rollout_failures: {exc}") from None


def _read_seed(config: pytest.Config) -> int | None:
    value = setting(config, "rollout_seed")
    if value is None or isinstance(value, int):
        return value
    try:
        return parse_seed(str(value))
    except argparse.ArgumentTypeError as exc:
        raise pytest.UsageError(f"rollout_seed: {exc}") from None


def _check_writable(flag: str, given: str, path: Path | None) -> None:
    """Fail before the evals spend their budget, not after."""
    assert path is not None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise pytest.UsageError(f"rollout: {flag} {given}: cannot create its folder ({exc})") from None
    if path.is_dir() or not os.access(path.parent, os.W_OK):
        raise pytest.UsageError(f"rollout: {flag} {given}: not a writable file path")
