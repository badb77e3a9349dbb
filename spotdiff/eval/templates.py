"""The versioned prompts shipped in `spotdiff/eval/prompts/` (`NAME-VERSION.txt`)."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files

PROMPTS = files("spotdiff.eval") / "prompts"


class PromptNotFound(ValueError):
    pass


@dataclass(frozen=True)
class Prompt:
    name: str
    version: str
    text: str


def versions(name: str) -> list[str]:
    prefix = f"{name}-"
    return sorted(p.name[len(prefix):-4] for p in PROMPTS.iterdir()
                  if p.name.startswith(prefix) and p.name.endswith(".txt"))


def load_prompt(name: str, version: str) -> Prompt:
    """The prompt's text without the note lines ('#') at the top of its file."""
    path = PROMPTS / f"{name}-{version}.txt"
    if not path.is_file():
        raise PromptNotFound(f"no {name} prompt version '{version}' (shipped: "
                             f"{', '.join(versions(name)) or 'none'})")
    lines = path.read_text(encoding="utf-8").splitlines()
    while lines and lines[0].startswith("#"):
        lines.pop(0)
    return Prompt(name, version, "\n".join(lines).strip())
