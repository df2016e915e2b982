"""The full count of the test suite: the variants CI leaves out, run and counted.

    python benchmarks/full_suite.py [--all]

CI (`make test`) runs one variant of each kind of slow end-to-end test; the others (the
``full`` marker, listed with what covers them in ``tests/conftest.py``) run here. ``--all``
runs the whole main suite with them (what ``make test-full`` runs). Prints the pytest summary,
the wall time and the machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    """Run the selection with pytest's two workers and print what it measured."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--all", action="store_true", help="the whole main suite, not only `full`")
    args = parser.parse_args()
    marks = "not azure_sdk and not containers" if args.all else "full"
    cmd = [sys.executable, "-m", "pytest", "-q", "-n", "2", "--dist", "loadfile", "-m", marks]
    started = time.monotonic()
    done = subprocess.run(cmd, cwd=REPO, check=False)
    wall = time.monotonic() - started
    print(f"selection: -m {marks!r}; exit {done.returncode}; wall {wall:.0f} s; machine: "
          f"{platform.machine()} {platform.system()}, {os.cpu_count()} cores")  # fmt: skip
    sys.exit(done.returncode)


if __name__ == "__main__":
    main()
