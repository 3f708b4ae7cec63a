#!/usr/bin/env python
"""Rebuild the tables and figures of the three seed papers: the same entry point as ``python -m dcl_runner.tables``
(see dcl_runner/tables/__main__.py and docs/tables.md)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's package, wherever it is called from

from dcl_runner.tables.__main__ import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
