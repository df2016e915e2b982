"""Component: guided mode's gate after propose; its single output guards the cycle's trials."""

from kfp import dsl

from qtrain.images import base_image


@dsl.component(base_image=base_image(), install_kfp_package=False)
def decided_gate(proposals: list) -> bool:
    """True when a person approved the cycle's trials; False: the run ended while waiting
    (stop, pause, the deadline), so the cycle's ``dsl.Else`` exports."""
    from qtrain.steps import decided

    return decided(proposals)
