"""Component: the exit handler; reports how the run ended, failures included."""

from kfp import dsl
from kfp.dsl import Markdown, Output

from qtrain.images import base_image


@dsl.component(base_image=base_image(), install_kfp_package=False)
def report_failure(config_json: str, status: dsl.PipelineTaskFinalStatus, report: Output[Markdown]):
    """Write the final status (and the failing task's error) as Markdown."""
    from qtrain.steps import failure_report

    status_dict = {
        "state": status.state,
        "pipelineJobResourceName": status.pipeline_job_resource_name,
        "pipelineTaskName": status.pipeline_task_name,
        "error": {"message": status.error_message, "code": status.error_code},
    }
    with open(report.path, "w", encoding="utf-8") as f:
        f.write(failure_report(config_json, status_dict))
    print(f"qtrain run ended: {status.state}")
