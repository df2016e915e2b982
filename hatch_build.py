"""Hatch build hook: an editable install must not copy ``components/`` and ``pipelines/``.

The wheel force-includes them as ``qtrain_kfp/components`` and ``qtrain_kfp/pipelines``
(pyproject.toml). An editable install puts ``src/`` on the path instead, where
``src/qtrain_kfp`` links to the live folders; a copy in site-packages would shadow them.
"""

from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class EditableWithoutCopies(BuildHookInterface):
    """Force-includes only the packaged configs in editable installs."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        """Editable builds: keep ``configs`` -> ``qtrain/_configs`` and nothing else."""
        if version == "editable":
            build_data["force_include_editable"] = {"configs": "qtrain/_configs"}
