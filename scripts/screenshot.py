"""Regenerate docs/report.png: the HTML report of the demo's failing context release.

Run: ``python scripts/screenshot.py [--out docs/report.png] [--html PATH] [--seed N]``. It replays
acts 1 and 3 of ``scripts/demo.py`` (release 1 and its baselines, then the three sequenced
releases) in a throwaway repository, takes the ``--rollout-report`` of the release that FAILs
(the context window change), renders it with ``pytest-rollout report --html`` and has headless
Chromium (Debian's ``chromium``; ``source scripts/services.sh`` installs it as root) save the
screenshot.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import demo  # noqa: E402  (scripts/demo.py: the story this screenshot is taken from)

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
)


def failing_release(repo: Path, seed: int) -> Path:
    """The demo's acts 1 and 3 in ``repo``; the JSON report of the release whose eval fails."""
    story = demo.Demo(repo, seed, demo.Style(False))
    base = story.setup()
    steps = story.sequenced(base)
    for i, step in enumerate(steps, 1):
        if any(e["verdict"] != "PASS" for e in step.evals):
            return repo / f"rollout-step{i}.json"
    raise SystemExit("screenshot: no release failed in the demo: has example_repo changed?")


def screenshot(chromium: str, page: Path, out: Path, size: str, profile: Path) -> None:
    cmd = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={size}"]
    cmd += [f"--screenshot={out}", page.resolve().as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0 or not out.is_file():
        raise SystemExit(f"screenshot: chromium failed ({proc.returncode}): {proc.stderr[-500:]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "report.png")
    parser.add_argument("--html", type=Path, help="Also keep the HTML page here")
    parser.add_argument("--seed", type=int, default=2024, help="--rollout-seed of the demo (default 2024)")
    parser.add_argument("--size", default="1000,1900", help="Chromium window size WIDTH,HEIGHT")
    args = parser.parse_args(argv)
    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("screenshot: no `chromium` on PATH: `source scripts/services.sh` as root installs it")
    with tempfile.TemporaryDirectory(prefix="rollout-screenshot-") as tmp:
        report = failing_release(Path(tmp) / "support-assistant", args.seed)
        page = Path(tmp) / "report.html"
        cli = [sys.executable, "-m", "pytest_rollout", "report", str(report), "--html", str(page)]
        subprocess.run(cli, check=True, capture_output=True)
        verdicts = [e["verdict"] for e in json.loads(report.read_text())["evals"]]
        args.out.parent.mkdir(parents=True, exist_ok=True)
        screenshot(chromium, page, args.out, args.size, Path(tmp) / "profile")
        if args.html:
            shutil.copyfile(page, args.html)
    print(f"wrote {args.out} ({report.name}: {', '.join(verdicts)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
