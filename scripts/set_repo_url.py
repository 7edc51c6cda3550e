"""Point the book at another repository (for a fork): rewrite the repository URL everywhere.

    python scripts/set_repo_url.py https://github.com/YOU/YOUR-FORK [--branch main] [--dry-run]
    python scripts/set_repo_url.py --show      # what each chapter's Colab set-up cell installs now

The URL lives in one place, `repository.url` in _config.yml (which also drives the Colab
buttons of the web book). This script reads the current value there and replaces it, and the
`OWNER/REPO` part of it, in:

* _config.yml           repository.url (and repository.branch with --branch)
* README.md             Colab badges and links, `pip install git+...`, `git clone ...`
* chapters/*.ipynb      the Colab set-up cell (`!pip install -q git+URL@BRANCH`) and any links

Notebooks are edited as text, so their stored outputs and formatting are left untouched.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
GITHUB = re.compile(r"^https://github\.com/([\w.-]+)/([\w.-]+?)(\.git)?/?$")


def owner_repo(url: str) -> str:
    m = GITHUB.match(url)
    if not m:
        raise SystemExit(f"error: not a GitHub repository URL (https://github.com/OWNER/REPO): {url}")
    return f"{m.group(1)}/{m.group(2)}"


def targets(root: Path) -> list[Path]:
    return [root / "_config.yml", root / "README.md", *sorted((root / "chapters").glob("*.ipynb"))]


def rewrite(text: str, old: str, new: str, old_branch: str | None, new_branch: str | None) -> str:
    old_or, new_or = owner_repo(old), owner_repo(new)
    if new_branch and old_branch:  # pip install git+URL@BRANCH in the set-up cells
        text = re.sub(rf"{re.escape(old)}@{re.escape(old_branch)}(?![\w./-])", f"{new}@{new_branch}", text)
    text = text.replace(old.rstrip("/"), new.rstrip("/"))
    # Colab / raw / blob links spell the repository as OWNER/REPO without the github.com prefix.
    text = re.sub(rf"(?<![\w.-]){re.escape(old_or)}(?![\w-])", new_or, text)
    if new_branch and old_branch and new_branch != old_branch:
        text = text.replace(f"/blob/{old_branch}/", f"/blob/{new_branch}/")
        text = text.replace(f"/tree/{old_branch}", f"/tree/{new_branch}")
    return text


def set_branch_in_config(text: str, branch: str) -> str:
    return re.sub(r"(?m)^(\s+branch:\s*)\S+", rf"\g<1>{branch}", text, count=1)


INSTALL = re.compile(r"pip install[^\n]*?git\+(\S+)")


def show(root: Path) -> int:
    """Print the repository and branch of _config.yml and what each chapter's set-up cell (its
    first code cell) installs; non-zero when a chapter installs from anywhere else."""
    cfg = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))["repository"]
    want = f"{cfg['url'].rstrip('/')}@{cfg.get('branch', 'main')}"
    print(f"_config.yml: repository.url {cfg['url']}, branch {cfg.get('branch', 'main')}")
    print(f"the Colab set-up cells should install: git+{want}")
    bad = 0
    for nb in sorted((root / "chapters").glob("*.ipynb")):
        cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
        first = next(("".join(c["source"]) for c in cells if c["cell_type"] == "code"), "")
        found = INSTALL.findall(first)
        ok = bool(found) and all(f == want for f in found)
        bad += not ok
        print(f"  {'ok ' if ok else 'DIFFERENT'} {nb.relative_to(root)}: {', '.join(found) or 'no install line'}")
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    if argv is None:
        argv = sys.argv[1:]
    if "--show" in argv:
        root = ROOT
        if "--root" in argv:
            root = Path(argv[argv.index("--root") + 1])
        return show(root)
    parser.add_argument("--show", action="store_true",
                        help="only print what the chapters' set-up cells install (no URL needed)")
    parser.add_argument("url", help="new repository URL, https://github.com/OWNER/REPO")
    parser.add_argument("--branch", help="also change the branch the Colab links use")
    parser.add_argument("--dry-run", action="store_true", help="only list the files that would change")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    new = args.url.rstrip("/").removesuffix(".git")
    owner_repo(new)  # validates
    cfg = yaml.safe_load((args.root / "_config.yml").read_text(encoding="utf-8"))
    old = cfg["repository"]["url"].rstrip("/").removesuffix(".git")
    old_branch = str(cfg["repository"].get("branch", "main"))
    if old == new and (not args.branch or args.branch == old_branch):
        print(f"already {new}")
        return 0

    changed = []
    for path in targets(args.root):
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        out = rewrite(text, old, new, old_branch, args.branch)
        if path.name == "_config.yml" and args.branch:
            out = set_branch_in_config(out, args.branch)
        if out != text:
            changed.append(path.relative_to(args.root))
            if not args.dry_run:
                path.write_text(out, encoding="utf-8")
    verb = "would change" if args.dry_run else "changed"
    print(f"{old} -> {new}" + (f" (branch {args.branch})" if args.branch else ""))
    for p in changed:
        print(f"  {verb} {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
