"""Resources, secrets, volumes, retries and caching of the pipeline's tasks."""

from kfp import dsl, kubernetes

from qtrain.config.schema import RunConfig
from qtrain.images import base_image, train_image
from qtrain.steps import runs_rungs
from qtrain.steps.guided import deadline_policy
from qtrain.steps.run_control import control_store_kind
from qtrain.steps.volumes import STEPS_GID


def guided_wait_s(config: RunConfig) -> int:
    """How long a guided pipeline's propose step may wait for a decision (0: automated)."""
    if config.runtime.mode != "guided":
        return 0
    return int(deadline_policy(config)[0])


class TaskSettings:
    """Resources, secrets, volumes and retries from the config's ``kubeflow`` section.

    Every step that loads the model (preprocess measures the base model, train, evaluate,
    export) runs in the CUDA image with the configured GPU, limits and model cache: a 4-bit
    phi-4 neither loads nor generates on a CPU node.
    """

    def __init__(self, config: RunConfig) -> None:
        self.kf = config.kubeflow
        self.halving = runs_rungs(config)
        self.k = config.training.trials_per_cycle
        self.control = control_store_kind(config)
        self.guided = config.runtime.mode == "guided"
        self.guided_wait_s = guided_wait_s(config)
        self.export_merged = config.runtime.export_merged

    def plain(
        self, task: dsl.PipelineTask, secrets: bool = False, model: bool = False
    ) -> dsl.PipelineTask:
        """Every task: caching as configured, retries (a pre-empted node), a deadline, the
        image from the configured registry and tag with its pull secrets, and Azure
        credentials where the task needs them. ``model``: a step that loads the model."""
        task.set_caching_options(self.kf.caching)
        task.set_retry(num_retries=self.kf.step_retries, backoff_duration="30s")
        deadline = self.kf.model_step_timeout_s if model else self.kf.step_timeout_s
        kubernetes.set_timeout(task, deadline)
        if self.kf.image_registry or self.kf.image_tag:
            image = train_image if model else base_image
            task.set_container_image(image(self.kf.image_registry, self.kf.image_tag))
        if self.kf.image_pull_secrets:
            kubernetes.set_image_pull_secrets(task, list(self.kf.image_pull_secrets))
        if secrets and self.kf.azure_secret:
            kubernetes.use_secret_as_env(
                task,
                secret_name=self.kf.azure_secret,
                secret_key_to_env={key: key for key in self.kf.azure_secret_keys},
                optional=True,
            )
        return task

    def model_step(
        self, task: dsl.PipelineTask, secrets: bool = False, accelerator: bool = True
    ) -> dsl.PipelineTask:
        """A task that loads the model: limits, the model cache, and the GPU when configured
        (``accelerator=False``: CPU work, such as an adapter-only export)."""
        self.plain(task, secrets=secrets, model=True)
        task.set_cpu_limit(self.kf.train_cpu).set_memory_limit(self.kf.train_memory)
        if self.kf.hf_secret:  # a gated model: every step that loads it needs the token
            kubernetes.use_secret_as_env(
                task,
                secret_name=self.kf.hf_secret,
                secret_key_to_env={self.kf.hf_secret_key: "HF_TOKEN"},
            )
        if self.kf.model_cache_pvc:
            kubernetes.mount_pvc(
                task, pvc_name=self.kf.model_cache_pvc, mount_path=self.kf.model_cache_path
            )
            task.set_env_variable("HF_HOME", self.kf.model_cache_path)
        if not accelerator:
            return task
        gpu = self.kf.gpu
        if gpu.count > 0:
            task.set_accelerator_type(gpu.accelerator_type).set_accelerator_limit(gpu.count)
            for label, value in gpu.node_selector.items():
                kubernetes.add_node_selector(task, label_key=label, label_value=value)
            for t in gpu.tolerations:
                kubernetes.add_toleration(
                    task, key=t.key, operator=t.operator, value=t.value, effect=t.effect
                )
        return task

    def volume_step(self, task: dsl.PipelineTask) -> dsl.PipelineTask:
        """``kubeflow.volume_init``: uid 0 with the steps' group, both volumes mounted."""
        self.plain(task)
        task.set_caching_options(False)
        kubernetes.set_security_context(
            task, run_as_user=0, run_as_group=STEPS_GID, run_as_non_root=False
        )
        self._mount(task, self.kf.runs_pvc, self.kf.runs_mount_path)
        self._mount(task, self.kf.model_cache_pvc, self.kf.model_cache_path)
        return task

    def data_step(self, task: dsl.PipelineTask) -> dsl.PipelineTask:
        """Preprocess: reads the raw data (data volume) and starts the run (runs volume).

        Never cached: it draws the run id, which must be new for every run.
        """
        self.model_step(task)
        task.set_caching_options(False)
        self._mount(task, self.kf.data_pvc, self.kf.data_mount_path)
        self._mount(task, self.kf.runs_pvc, self.kf.runs_mount_path)
        return task

    def propose_step(self, task: dsl.PipelineTask) -> dsl.PipelineTask:
        """Propose: the solver's credentials, and the runs volume, where the azure solver
        keeps its job ids (``runtime.output_dir/azure-jobs``) so a retried step resumes the
        same paid job. In guided mode it waits for a person's decision: never cached."""
        self.plain(task, secrets=True)
        if self.guided:
            task.set_caching_options(False)
            # it waits for a decision up to the deadline: the pod's deadline comes after it
            kubernetes.set_timeout(task, max(self.kf.step_timeout_s, self.guided_wait_s + 600))
        self._mount(task, self.kf.runs_pvc, self.kf.runs_mount_path)
        return task

    def gate_step(self, task: dsl.PipelineTask) -> dsl.PipelineTask:
        """The gate: never cached (the channel is outside its inputs); the runs volume or
        the blob store's credentials when it reads the control channel there."""
        self.plain(task, secrets=self.control == "blob")
        task.set_caching_options(False)
        if self.control == "volume":
            self._mount(task, self.kf.runs_pvc, self.kf.runs_mount_path)
        return task

    def export_step(self, task: dsl.PipelineTask) -> dsl.PipelineTask:
        """Export: the runs volume, and the Azure secret for a blob checkpoint store. The GPU
        only when it merges the adapter into the base model (``runtime.export_merged``): an
        adapter-only export is CPU work."""
        self.model_step(task, secrets=True, accelerator=self.export_merged)
        self._mount(task, self.kf.runs_pvc, self.kf.runs_mount_path)
        return task

    def train(self, task: dsl.PipelineTask) -> dsl.PipelineTask:
        """The train task: a model step with retries (a preempted GPU node, say)."""
        self.model_step(task)
        task.set_retry(num_retries=self.kf.train_retries, backoff_duration="30s")
        return task

    @staticmethod
    def _mount(task: dsl.PipelineTask, pvc: str | None, path: str) -> None:
        if pvc:
            kubernetes.mount_pvc(task, pvc_name=pvc, mount_path=path)
