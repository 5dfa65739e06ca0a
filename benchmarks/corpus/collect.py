"""How the corpus was made (kept for the record; needs the repositories' clones).

    python benchmarks/corpus/collect.py [--round N] SLUG OWNER/NAME GIT_DIR COMMIT...

For each commit, every changed file that is configuration (YAML, JSON, TOML, .env, prompt
templates; no code, no lock files, nothing over 300 kB) is stored at both sides, as gzipped
blobs named by their git sha (benchmarks/corpus/SLUG/blobs/), and listed in
benchmarks/corpus/SLUG/commits.json with the repository and the commit's parent. ``--round N``
(default 1) records when the repository joined the corpus: round 1 is what the defaults were
first written against, later rounds are held out (the benchmark reports them apart).
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

CONFIG_SUFFIXES = (".yaml", ".yml", ".json", ".jsonc", ".toml", ".j2", ".jinja", ".jinja2", ".prompt")
SKIP = ("package-lock.json", "pnpm-lock.yaml")
MAX_BYTES = 300_000


def git(gitdir: str, *args: str) -> str:
    return subprocess.run(["git", "-C", gitdir, *args], check=True, capture_output=True, text=True).stdout


def is_config(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    env = name == ".env" or name.startswith(".env.") or name.endswith(".env")
    return name not in SKIP and (env or name.endswith(CONFIG_SUFFIXES))


def main(slug: str, repo: str, gitdir: str, commits: list[str], rnd: int = 1) -> None:
    out = Path(__file__).parent / slug
    (out / "blobs").mkdir(parents=True, exist_ok=True)
    records = []
    for short in commits:
        sha = git(gitdir, "rev-parse", short).strip()
        parent = git(gitdir, "rev-parse", f"{sha}^").strip()
        subject = git(gitdir, "log", "-1", "--format=%s", sha).strip()
        files: dict[str, dict[str, str | None]] = {}
        raw = git(gitdir, "diff-tree", "-r", "--no-renames", "--raw", parent, sha)
        for line in raw.splitlines():
            meta, path = line.split("\t", 1)
            _, _, old_sha, new_sha, _ = meta.lstrip(":").split(" ")
            if not is_config(path):
                continue
            sides = {"base": old_sha, "head": new_sha}
            if any(s.strip("0") and int(git(gitdir, "cat-file", "-s", s)) > MAX_BYTES for s in sides.values()):
                continue
            for s in sides.values():
                if s.strip("0"):
                    data = subprocess.run(
                        ["git", "-C", gitdir, "cat-file", "blob", s], check=True, capture_output=True
                    ).stdout
                    (out / "blobs" / f"{s}.gz").write_bytes(gzip.compress(data, mtime=0))
            files[path] = {k: (v if v.strip("0") else None) for k, v in sides.items()}
        records.append({"commit": sha, "parent": parent, "subject": subject, "files": files})
    doc = {"repository": repo, "round": rnd, "commits": records}
    (out / "commits.json").write_text(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    argv = sys.argv[1:]
    rnd = int(argv[1]) if argv[:1] == ["--round"] else 1
    argv = argv[2:] if argv[:1] == ["--round"] else argv
    main(argv[0], argv[1], argv[2], argv[3:], rnd)
