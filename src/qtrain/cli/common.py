"""What every ``qtrain`` command shares: the two consoles and ``[CONFIG] [key=value ...]``."""

from __future__ import annotations

from rich.console import Console

from qtrain.config import RunConfig, load_config

#: Progress, warnings and errors (stderr); results go to :data:`out` (stdout).
console = Console(stderr=True, log_path=False)  # log lines say what, not where in qtrain
out = Console()

#: The help of a command's ``[CONFIG] [key=value ...]`` arguments (brackets escaped: the help is
#: Rich markup, which would swallow them).
CONFIG_HELP = r"\[CONFIG] \[key=value ...]; CONFIG defaults to configs/tiny.yaml"


def config_from_args(args: list[str] | None) -> RunConfig:
    """``[CONFIG] [key=value ...]`` as a validated config (no CONFIG: configs/tiny.yaml)."""
    args = args or []
    if args and "=" not in args[0]:
        return load_config(args[0], args[1:])
    return load_config(None, args)
