"""The run configuration: schema and loading."""

from qtrain.config.loader import default_config_path, load_config, validate_config
from qtrain.config.schema import RunConfig

__all__ = ["RunConfig", "default_config_path", "load_config", "validate_config"]
