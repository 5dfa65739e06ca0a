"""``pytest --rollout-gate`` through pytester, against real git repositories."""

from __future__ import annotations

import json

import pytest

from conftest import SEED_APP_BASE, SEED_SERVING_BASE, GitRepo, seed_head

PLAIN_TEST = "def test_plain():\n    assert True\n"


def _seed_repo(repo: GitRepo, *, bundle: bool = True) -> tuple[str, str]:
    base = repo.commit(
        {"config/app.yaml": SEED_APP_BASE, "deploy/serving.yaml": SEED_SERVING_BASE, "test_plain.py": PLAIN_TEST},
        "base release",
    )
    app, serving = seed_head()
    if bundle:
        head = repo.commit({"config/app.yaml": app, "deploy/serving.yaml": serving}, "bundled deploy")
    else:
        head = repo.commit({"deploy/serving.yaml": serving}, "infra only")
    return base, head


def test_bundle_is_blocked_with_plan(pytester: pytest.Pytester, pytester_repo: GitRepo) -> None:
    base, _ = _seed_repo(pytester_repo)
    result = pytester.runpytest("--rollout-gate", f"--rollout-base={base}", "-rA")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "rollout: *..*, moved: context, infra, model",
            "*FAILED rollout::gate*",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*= rollout =*",
            "*infra*deploy/serving.yaml*serving.batch_size*8 -> 32*",
            "decision: BLOCKED",
            "  - 3 coupled layers moved in one release: infra, model, context; at most 1 may",
            "plan: split this release into 3 steps, in this order:",
            "  step 1: infra",
            "  step 2: model",
            "  step 3: context",
        ]
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_single_layer_passes(pytester: pytest.Pytester, pytester_repo: GitRepo) -> None:
    base, _ = _seed_repo(pytester_repo, bundle=False)
    result = pytester.runpytest("--rollout-gate", f"--rollout-base={base}")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["decision: PASS"])


def test_three_commits_pass_alone_and_block_together(pytester: pytest.Pytester, pytester_repo: GitRepo) -> None:
    base = pytester_repo.commit(
        {"config/app.yaml": SEED_APP_BASE, "deploy/serving.yaml": SEED_SERVING_BASE, "test_plain.py": PLAIN_TEST}
    )
    app, serving = seed_head()
    steps = [
        {"deploy/serving.yaml": serving},
        {"config/app.yaml": SEED_APP_BASE.replace("gpt-4-turbo-preview", "gpt-4o")},
        {"config/app.yaml": app},
    ]
    shas = [base] + [pytester_repo.commit(files, f"step {i}") for i, files in enumerate(steps, 1)]
    for prev, cur in zip(shas, shas[1:], strict=False):
        res = pytester.runpytest("--rollout-gate", f"--rollout-base={prev}", f"--rollout-head={cur}")
        res.assert_outcomes(passed=2)
    res = pytester.runpytest("--rollout-gate", f"--rollout-base={base}", "--rollout-per-commit")
    res.assert_outcomes(passed=1, failed=1)
    res.stdout.fnmatch_lines(
        ["*commit * PASS    infra*step 1", "*commit * PASS    model*step 2", "*commit * PASS    context*step 3"]
    )


def test_cosmetic_commit_passes(pytester: pytest.Pytester, pytester_repo: GitRepo) -> None:
    base = pytester_repo.commit({"config/app.yaml": SEED_APP_BASE, "test_plain.py": PLAIN_TEST})
    reformatted = (
        "# reformatted\nretrieval: {top_k: 4, chunk_size: 512, embedding_model: 'text-embedding-3-small'}\n"
        'llm:\n    max_tokens: 512\n    model: "gpt-4-turbo-preview"\n    provider: openai\n    temperature: 0.2\n'
        "    top_p: 1.0\n    context_window: 8192   # tokens\n"
    )
    pytester_repo.commit({"config/app.yaml": reformatted}, "cosmetic")
    res = pytester.runpytest("--rollout-gate", f"--rollout-base={base}")
    res.assert_outcomes(passed=2)
    res.stdout.fnmatch_lines(["*moved: none*", "no AI config changed", "decision: PASS"])


def test_approved_bundle_passes_and_is_named(pytester: pytest.Pytester, pytester_repo: GitRepo) -> None:
    base = pytester_repo.commit(
        {"config/app.yaml": SEED_APP_BASE, "deploy/serving.yaml": SEED_SERVING_BASE, "test_plain.py": PLAIN_TEST}
    )
    app, serving = seed_head()
    pytester_repo.commit(
        {"config/app.yaml": app, "deploy/serving.yaml": serving},
        "bundle\n\nRollout-Bundle-Approved: provider migration, measured as one unit",
    )
    res = pytester.runpytest("--rollout-gate", f"--rollout-base={base}", "--rollout-report=out.json")
    res.assert_outcomes(passed=2)
    res.stdout.fnmatch_lines(
        [
            "decision: PASS",
            "  bundle approved: provider migration, measured as one unit (commit * by Test Author <test@example.com>)",
        ]
    )
    doc = json.loads((pytester.path / "out.json").read_text())
    assert doc["decision"]["override"]["reason"] == "provider migration, measured as one unit"


def test_empty_trailer_reason_is_refused(pytester: pytest.Pytester, pytester_repo: GitRepo) -> None:
    base = pytester_repo.commit({"config/app.yaml": SEED_APP_BASE, "deploy/serving.yaml": SEED_SERVING_BASE})
    app, serving = seed_head()
    pytester_repo.commit({"config/app.yaml": app, "deploy/serving.yaml": serving}, "bundle\n\nRollout-Bundle-Approved:")
    res = pytester.runpytest("--rollout-gate", f"--rollout-base={base}")
    res.assert_outcomes(failed=1)
    res.stdout.fnmatch_lines(["*empty reason*"])


def test_allow_bundle_option(pytester: pytest.Pytester, pytester_repo: GitRepo) -> None:
    base, _ = _seed_repo(pytester_repo)
    res = pytester.runpytest("--rollout-gate", f"--rollout-base={base}", "--rollout-allow-bundle=incident 42 hotfix")
    res.assert_outcomes(passed=2)
    res.stdout.fnmatch_lines(["  bundle approved: incident 42 hotfix (--rollout-allow-bundle)"])


def test_strict_mode_blocks_unclassified(pytester: pytest.Pytester, pytester_repo: GitRepo) -> None:
    pytester.makefile(".yaml", rollout='strict: true\nlayers:\n  model: {keys: ["config/app.yaml:llm.model"]}\n')
    base = pytester_repo.commit({"config/app.yaml": SEED_APP_BASE})
    pytester_repo.commit({"config/app.yaml": SEED_APP_BASE.replace("0.2", "0.3")})
    res = pytester.runpytest("--rollout-gate", f"--rollout-base={base}")
    res.assert_outcomes(failed=1)
    res.stdout.fnmatch_lines(["*unclassified*config/app.yaml:llm.temperature*"])


def test_ini_keys(pytester: pytest.Pytester, pytester_repo: GitRepo) -> None:
    base, _ = _seed_repo(pytester_repo)
    pytester.makeini(f"[pytest]\nrollout_gate = true\nrollout_base = {base}\nrollout_report = r.json\n")
    res = pytester.runpytest()
    res.assert_outcomes(passed=1, failed=1)
    assert json.loads((pytester.path / "r.json").read_text())["decision"]["status"] == "blocked"


def test_json_report_validates_against_schema(pytester: pytest.Pytester, pytester_repo: GitRepo) -> None:
    from pytest_rollout.models import Report

    base, _ = _seed_repo(pytester_repo)
    pytester.runpytest("--rollout-gate", f"--rollout-base={base}", "--rollout-report=out/r.json")
    doc = json.loads((pytester.path / "out/r.json").read_text())
    Report.model_validate(doc)
    assert doc["layers_changed"] == ["context", "infra", "model"]
    assert [s["layer"] for s in doc["decision"]["plan"]] == ["infra", "model", "context"]
    assert {c["key"] for c in doc["changes"]} == {"llm.model", "llm.context_window", "serving.batch_size"}


def test_gate_errors_are_usage_errors(pytester: pytest.Pytester, pytester_repo: GitRepo) -> None:
    pytester_repo.commit({"test_plain.py": PLAIN_TEST})
    res = pytester.runpytest_subprocess("--rollout-gate", "--rollout-base=does-not-exist")
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    res.stderr.fnmatch_lines(["ERROR: rollout: unknown base ref 'does-not-exist'*"])
    assert "Traceback" not in res.stdout.str() + res.stderr.str()


def test_bad_settings_is_usage_error(pytester: pytest.Pytester, pytester_repo: GitRepo) -> None:
    pytester.makefile(".yaml", rollout="layers:\n  model:\n    keys: [oops]\n")
    base = pytester_repo.commit({"test_plain.py": PLAIN_TEST})
    res = pytester.runpytest_subprocess("--rollout-gate", f"--rollout-base={base}")
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    res.stderr.fnmatch_lines(["ERROR: rollout: *rollout.yaml:3: layers.model.keys*FILEGLOB:KEYPATH*"])


def test_malformed_config_at_head_fails_closed(pytester: pytest.Pytester, pytester_repo: GitRepo) -> None:
    base = pytester_repo.commit({"config/app.yaml": SEED_APP_BASE, "test_plain.py": PLAIN_TEST})
    pytester_repo.commit({"config/app.yaml": "llm:\n  model: [unclosed\n"})
    res = pytester.runpytest_subprocess("--rollout-gate", f"--rollout-base={base}")
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    res.stderr.fnmatch_lines(["ERROR: rollout: config/app.yaml:*"])


def test_without_gate_the_plugin_is_inert(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(PLAIN_TEST)
    before = set(p.name for p in pytester.path.iterdir())
    res = pytester.runpytest()  # not even a git repository: no git call may happen
    res.assert_outcomes(passed=1)
    res.stdout.no_fnmatch_line("*= rollout =*")
    res.stdout.no_fnmatch_line("rollout:*")
    after = set(p.name for p in pytester.path.iterdir())
    assert after - before <= {".pytest_cache", "__pycache__"}


def test_disabled_with_p_no(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("import pytest\n@pytest.mark.layer('prompt')\ndef test_x():\n    pass\n")
    res = pytester.runpytest_subprocess("-p", "no:rollout", "--strict-markers")
    assert res.ret == pytest.ExitCode.INTERRUPTED  # marker unknown without the plugin
    res = pytester.runpytest_subprocess("-p", "no:rollout")
    res.assert_outcomes(passed=1)


def test_strict_markers_and_help(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("import pytest\n@pytest.mark.layer('prompt')\ndef test_x():\n    pass\n")
    pytester.runpytest("--strict-markers").assert_outcomes(passed=1)
    help_ = pytester.runpytest("--help")
    help_.stdout.fnmatch_lines(["pytest-rollout*", "*--rollout-gate*", "*rollout_gate (bool)*"])
    markers = pytester.runpytest("--markers")
    markers.stdout.fnmatch_lines(["@pytest.mark.layer(*names)*", "@pytest.mark.eval(trials,*"])


def test_xdist_runs_gate_once(pytester: pytest.Pytester, pytester_repo: GitRepo) -> None:
    base, _ = _seed_repo(pytester_repo)
    pytester.makepyfile(test_more="\n".join(f"def test_{i}():\n    pass\n" for i in range(6)))
    pytester_repo.commit({}, "more tests")
    res = pytester.runpytest_subprocess("--rollout-gate", f"--rollout-base={base}", "-n", "2", "-p", "xdist")
    res.assert_outcomes(passed=7, failed=1)
    serial = pytester.runpytest_subprocess("--rollout-gate", f"--rollout-base={base}")
    out = res.stdout.str()
    assert out.count("= rollout =") == 1
    assert out.count("3 coupled layers moved") == serial.stdout.str().count("3 coupled layers moved")


def test_github_outputs(pytester: pytest.Pytester, pytester_repo: GitRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    base, _ = _seed_repo(pytester_repo)
    summary = pytester.path / "summary.md"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    res = pytester.runpytest("--rollout-gate", f"--rollout-base={base}")
    text = summary.read_text()
    assert "| infra | `deploy/serving.yaml` | `serving.batch_size` | 8 -> 32 |" in text
    assert "Gate decision: ❌ BLOCKED" in text and "1. **infra**" in text
    res.stdout.fnmatch_lines(
        [
            "::error file=deploy/serving.yaml,line=2::infra change*plan step 1*",
            "::error file=config/app.yaml,line=4::model change*plan step 2*",
        ]
    )


def test_collect_only_lists_the_gate(pytester: pytest.Pytester, pytester_repo: GitRepo) -> None:
    base, _ = _seed_repo(pytester_repo)
    res = pytester.runpytest("--rollout-gate", f"--rollout-base={base}", "--co", "-q")
    res.stdout.fnmatch_lines(["rollout::gate", "test_plain.py::test_plain"])


def test_junitxml_has_the_gate(pytester: pytest.Pytester, pytester_repo: GitRepo) -> None:
    base, _ = _seed_repo(pytester_repo)
    pytester.runpytest("--rollout-gate", f"--rollout-base={base}", "--junitxml=j.xml")
    xml = (pytester.path / "j.xml").read_text()
    assert 'classname="rollout" name="gate"' in xml and "3 coupled layers moved" in xml


def test_keyword_selection_keeps_the_gate(pytester: pytest.Pytester, pytester_repo: GitRepo) -> None:
    base, _ = _seed_repo(pytester_repo)
    pytester.makepyfile(test_other="def test_other():\n    pass\n")
    res = pytester.runpytest("--rollout-gate", f"--rollout-base={base}", "-k", "other")
    res.assert_outcomes(passed=1, failed=1, deselected=1)  # rollout::gate is never filtered away


def test_per_commit_skips_merge_commits(pytester: pytest.Pytester, pytester_repo: GitRepo) -> None:
    base = pytester_repo.commit(
        {"config/app.yaml": SEED_APP_BASE, "deploy/serving.yaml": SEED_SERVING_BASE, "test_plain.py": PLAIN_TEST}
    )
    app, serving = seed_head()
    pytester_repo.repo.git.checkout("-q", "-b", "feature")
    pytester_repo.commit({"deploy/serving.yaml": serving}, "infra step")
    pytester_repo.repo.git.checkout("-q", "main")
    pytester_repo.commit({"README.md": "docs\n"}, "docs on main")
    pytester_repo.repo.git.merge("--no-ff", "-q", "-m", "merge feature", "feature")
    res = pytester.runpytest("--rollout-gate", f"--rollout-base={base}", "--rollout-per-commit")
    res.assert_outcomes(passed=2)
    out = res.stdout.str()
    assert "infra step" in out and "merge feature" not in out


def test_a_release_cannot_loosen_its_own_gate(pytester: pytest.Pytester, pytester_repo: GitRepo) -> None:
    base = pytester_repo.commit(
        {"config/app.yaml": SEED_APP_BASE, "rollout.yaml": "strict: false\n", "test_plain.py": PLAIN_TEST}
    )
    app, _ = seed_head()
    pytester_repo.commit(
        {"config/app.yaml": app, "rollout.yaml": "coupling:\n  max_layers_per_release: 6\n"},
        "bundle and loosen the gate",
    )
    res = pytester.runpytest("--rollout-gate", f"--rollout-base={base}")
    res.assert_outcomes(passed=1, failed=1)
    res.stdout.fnmatch_lines(
        [
            "  - 2 coupled layers moved in one release: model, context; at most 1 may",
            "  - *rollout.yaml changes together with layer(s) context, model: the gate judged this release by the base's settings*",
        ]
    )
    # the settings change alone passes, and then rules the next release
    alone = pytester_repo.commit({"config/app.yaml": SEED_APP_BASE}, "revert config")
    res = pytester.runpytest("--rollout-gate", f"--rollout-base={base}", f"--rollout-head={alone}")
    res.assert_outcomes(passed=2)


def test_broken_settings_with_forced_layers_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", rollout="layers: [\n")
    pytester.makepyfile(PLAIN_TEST)
    res = pytester.runpytest_subprocess("--rollout-layers=model")
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    res.stderr.fnmatch_lines(["ERROR: rollout: *rollout.yaml*not valid YAML*"])
    assert "INTERNALERROR" not in res.stdout.str() + res.stderr.str()


def test_ini_paths_are_relative_to_the_ini_file(
    pytester: pytest.Pytester, pytester_repo: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, _ = _seed_repo(pytester_repo)
    pytester.makeini(f"[pytest]\nrollout_report = out/r.json\nrollout_base = {base}\n")
    monkeypatch.chdir(pytester.mkdir("elsewhere"))
    res = pytester.runpytest("--rollout-gate", str(pytester.path / "test_plain.py"))
    res.assert_outcomes(passed=1, failed=1)
    assert (pytester.path / "out" / "r.json").is_file()
    assert not (pytester.path / "elsewhere" / "out").exists()


def test_an_ini_base_cannot_override_the_ci_base(
    pytester: pytest.Pytester, pytester_repo: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester_repo.commit(
        {"config/app.yaml": SEED_APP_BASE, "deploy/serving.yaml": SEED_SERVING_BASE, "test_plain.py": PLAIN_TEST},
        "base",
    )
    pytester_repo.repo.git.update_ref("refs/remotes/origin/main", "main")
    pytester_repo.repo.git.checkout("-q", "-b", "feature")
    app, serving = seed_head()
    pytester_repo.commit(
        {"config/app.yaml": app, "deploy/serving.yaml": serving, "pytest.ini": "[pytest]\nrollout_base = HEAD\n"},
        "bundle, and point the window at itself",
    )
    monkeypatch.setenv("GITHUB_BASE_REF", "main")
    res = pytester.runpytest("--rollout-gate")
    res.assert_outcomes(passed=1, failed=1)
    res.stdout.fnmatch_lines(["*3 coupled layers moved*"])
