"""nbval honours a marker comment only when it is alone on its line: a marker with more text is silently ignored."""

from __future__ import annotations

import json
import re
from pathlib import Path

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))
MARKER = re.compile(r"^\s*#\s*(NBVAL_\w+|PYTEST_VALIDATE_\w+)(.*)$")


def test_the_notebooks_are_found():
    assert len(NOTEBOOKS) >= 9


def test_every_nbval_marker_is_alone_on_its_line():
    bad = []
    for path in NOTEBOOKS:
        for number, cell in enumerate(json.loads(path.read_text())["cells"]):
            for line in "".join(cell["source"]).splitlines():
                match = MARKER.match(line)
                if match and match.group(2).strip():
                    bad.append(f"{path.name} cell {number}: {line.strip()!r}")
    assert not bad, "put the reason on the next line; nbval ignores these markers:\n" + "\n".join(bad)
