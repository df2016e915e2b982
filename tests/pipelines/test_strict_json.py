"""A trial that diverges (NaN eval loss) ends as a failed trial in a kfp-local run, the run
completes with a report, and no executor output holds a non-finite number: a cluster's
launcher would refuse it (kubeflow/pipelines#12227) where kfp.local's parser does not."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("kfp")

from support.strict_json import DIVERGES, DIVERGING, check_diverged_run, load_strict

from qtrain.config import load_config


@pytest.mark.slow
def test_a_diverged_trial_leaves_only_strict_json(
    tmp_path: Path, repo_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qtrain_kfp.pipelines.local_run import run_kfp_local

    monkeypatch.setenv("QTRAIN_FAILPOINTS", DIVERGES)  # the steps' processes inherit it

    overrides = [f"runtime.output_dir={tmp_path}", "runtime.run_id=nan", *DIVERGING]
    config = load_config(repo_root / "configs/tiny.yaml", overrides)
    run_kfp_local(config, keep_outputs=True, quiet=True)
    check_diverged_run(tmp_path / "nan", tmp_path / ".kfp-local" / "nan")


def test_the_strict_parser_refuses_non_finite_numbers(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    for text in ('{"a": NaN}', '{"a": Infinity}', "[-Infinity]"):
        path.write_text(text)
        with pytest.raises(ValueError, match="non-finite"):
            load_strict(path)
    path.write_text('{"a": 1.5}')
    assert load_strict(path) == {"a": 1.5}
