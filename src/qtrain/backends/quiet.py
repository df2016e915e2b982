"""Silence library progress bars and per-step prints; qtrain shows its own progress."""

from __future__ import annotations

import functools


@functools.cache
def quiet_libraries() -> None:
    """Turn off datasets/transformers progress bars and transformers' info logging (once)."""
    import datasets
    import transformers

    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
