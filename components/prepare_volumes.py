"""Component: make root-owned volumes writable by the steps (``kubeflow.volume_init``)."""

from kfp import dsl

from qtrain.images import base_image


@dsl.component(base_image=base_image(), install_kfp_package=False)
def prepare_volumes(config_json: str):
    """Create the runs folder and the model cache on their volumes, writable by the steps'
    group; runs as uid 0 (its task settings say so) before every other step."""
    from qtrain.steps import prepare_volumes as step

    for line in step(config_json):
        print(line)
