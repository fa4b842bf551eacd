"""Summarise a mutmut run: the score per module and every surviving mutant, sorted into
text-only mutants (only prose changed: a message's wording, never a verdict) and the rest
(logic: each needs a test or a reason in bench/MUTATION.md).

    .venv/bin/python bench/mutation_survivors.py [PREFIX]     # after `mutmut run`

PREFIX limits the report to mutant names starting with it (e.g. dkimwatch.records).
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import tokenize
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MUTMUT = [str(ROOT / ".venv" / "bin" / "mutmut")]


def mutmut(*args: str) -> str:
    # `mutmut show` prints the diff and may still exit 1 (it tries to open a viewer)
    return subprocess.run([*MUTMUT, *args], cwd=ROOT, capture_output=True, text=True).stdout


def statuses(prefix: str) -> dict[str, str]:
    out = {}
    for line in mutmut("results", "--all", "true").splitlines():
        name, sep, status = line.strip().rpartition(":")
        if sep and name.startswith(prefix):
            out[name] = status.strip()
    return out


def module_of(name: str) -> str:
    return re.sub(r"\.x[_ǁ].*", "", name)


def string_tokens(lines: list[str]) -> list[tokenize.TokenInfo] | None:
    """The lines' tokens (diff markers dropped), or None when they do not tokenise."""
    text = "\n".join(line[1:] for line in lines)
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return None
    skip = (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT)
    return [t for t in tokens if t.type not in skip]


def _is_string(t: tokenize.TokenInfo) -> bool:
    return t.type == tokenize.STRING or t.type == getattr(tokenize, "FSTRING_MIDDLE", -1)


def without_strings(lines: list[str]) -> list[str]:
    """The lines with every string literal's contents blanked (tokens, not regexes)."""
    tokens = string_tokens(lines)
    if tokens is None:
        return lines
    return ["''" if _is_string(t) else t.string for t in tokens]


def prose_only(old: list[str], new: list[str]) -> bool:
    """Every string literal the mutant changed is prose (has a space): a message. A changed
    literal without one ("-" in a replace, a keyword compared with) is data, so logic."""
    before, after = string_tokens(old), string_tokens(new)
    if before is None or after is None or len(before) != len(after):
        return False
    changed = [b for b, a in zip(before, after, strict=True) if b.string != a.string]
    return all(_is_string(t) and " " in t.string for t in changed)


def show(name: str) -> str:
    """The mutant's diff, in this process (one `mutmut show` per mutant takes seconds on a
    loaded machine); through the command when mutmut's internals have moved."""
    try:
        from mutmut.mutation.diff_apply import get_diff_for_mutant
    except ImportError:
        return mutmut("show", name)
    path = Path("src", *module_of(name).split(".")).with_suffix(".py")
    return str(get_diff_for_mutant(name, path=path))


def diff_of(name: str) -> tuple[list[str], list[str]]:
    old, new = [], []
    for line in show(name).splitlines():
        if line.startswith("-") and not line.startswith("---"):
            old.append(line)
        elif line.startswith("+") and not line.startswith("+++"):
            new.append(line)
    return old, new


def text_only(name: str) -> bool:
    old, new = diff_of(name)
    if not old or not new:
        return False
    if any("None" in line for line in new) and not any("None" in line for line in old):
        return False  # a message replaced by None can crash a join: not text only
    return without_strings(old) == without_strings(new) and prose_only(old, new)


def main(prefix: str) -> int:
    os.chdir(ROOT)  # mutmut reads mutants/ relative to the project
    found = statuses(prefix)
    score: Counter[tuple[str, str]] = Counter((module_of(n), s) for n, s in found.items())
    print("| module | killed | survived | other | score |\n|---|---:|---:|---:|---:|")
    for module in sorted({m for m, _ in score}):
        killed = score[(module, "killed")]
        survived = score[(module, "survived")]
        other = sum(v for (m, s), v in score.items() if m == module) - killed - survived
        checked = killed + survived
        pct = f"{100 * killed / checked:.1f} %" if checked else "-"
        print(f"| {module} | {killed} | {survived} | {other} | {pct} |")
    survivors = sorted(n for n, s in found.items() if s == "survived")
    texts = [n for n in survivors if text_only(n)]
    logic = [n for n in survivors if n not in texts]
    print(f"\nText-only survivors ({len(texts)}):\n")
    print(", ".join(f"`{n.removeprefix('dkimwatch.')}`" for n in texts))
    print(f"\nLogic survivors ({len(logic)}):\n")
    for name in logic:
        old, new = diff_of(name)
        change = " / ".join(line[1:].strip() for line in old) + " → "
        change += " / ".join(line[1:].strip() for line in new)
        print(f"- `{name.removeprefix('dkimwatch.')}`: `{change[:160]}`")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1] if len(sys.argv) > 1 else "dkimwatch."))
