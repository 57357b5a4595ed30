"""Report prose kept in template files, the figures passed in as data.

A template file holds named blocks, each introduced by a line ``<!-- name -->``; a block is
the text up to the next such line, its trailing newlines dropped (blank lines between blocks
are for reading). Blocks are ``str.format`` templates: ``{name}`` takes a figure, with a
format spec (``{ratio:.2f}``), an index (``{r[key]}``) or an attribute (``{x.events:,}``);
literal braces are doubled.
"""

from __future__ import annotations

import re
from pathlib import Path

_BLOCK = re.compile(r"^<!-- ([a-z0-9_]+) -->\n", re.MULTILINE)


def load(path: Path) -> dict[str, str]:
    """The named blocks of a template file."""
    parts = _BLOCK.split(path.read_text())
    if parts[0].strip():
        raise ValueError(f"{path}: text before the first block")
    return {name: text.rstrip("\n") for name, text in zip(parts[1::2], parts[2::2], strict=True)}
