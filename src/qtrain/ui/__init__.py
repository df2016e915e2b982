"""``qtrain ui``: a live web dashboard for runs (the ``ui`` extra: Starlette + uvicorn).

One more client of a run's event log and control channel (:mod:`qtrain.control`), never a
second way to change a run. ``import qtrain`` does not load it.
"""
