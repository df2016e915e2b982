"""The dashboard is an extra: importing qtrain and its CLI loads neither it nor its server."""

from __future__ import annotations

import subprocess
import sys


def test_qtrain_and_its_cli_do_not_load_the_dashboard() -> None:
    code = (
        "import sys, qtrain, qtrain.cli.app\n"
        "heavy = ('starlette', 'uvicorn', 'tensorboardX', 'playwright')\n"
        "bad = sorted(n for n in sys.modules if n.split('.')[0] in heavy or n == 'qtrain.ui.app')\n"
        "print(bad)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
