from pathlib import Path

from qtrain.cycle.report import build_report, render_markdown
from qtrain.cycle.selection import IncumbentSelector
from qtrain.history import History, TrialRecord


def record(cycle: int, trial: int, loss: float, em: float) -> TrialRecord:
    return TrialRecord(
        cycle=cycle,
        trial=trial,
        params={"training.learning_rate": 0.01},
        start_checkpoint=None,
        checkpoint=f"c{cycle}-t{trial}",
        steps=10,
        metrics={"eval_loss": loss, "exact_match": em},
    )


def test_selector_min_and_max() -> None:
    records = [record(1, 0, 0.5, 0.2), record(1, 1, 0.4, 0.1), record(2, 0, 0.6, 0.9)]
    assert IncumbentSelector("eval_loss", "min").best(records).trial == 1
    assert IncumbentSelector("exact_match", "max").best(records).cycle == 2


def test_selector_breaks_ties_on_loss_then_order() -> None:
    sel = IncumbentSelector("exact_match", "max")
    a, b = record(1, 0, 0.5, 0.9), record(1, 1, 0.4, 0.9)
    assert sel.best([a, b]) is b
    assert not sel.better(record(2, 0, 0.4, 0.9), b)
    assert sel.better(a, None)


def test_selector_ignores_failed() -> None:
    failed = record(1, 0, 0.1, 1.0)
    failed.status = "failed"
    assert IncumbentSelector("eval_loss", "min").best([failed]) is None


def test_history_persists_and_reloads(tmp_path: Path) -> None:
    h = History(tmp_path / "history.jsonl")
    h.add(record(1, 0, 0.5, 0.2))
    h.add(record(2, 0, 0.3, 0.6))
    again = History.load(tmp_path / "history.jsonl")
    assert [r.to_dict() for r in again.records] == [r.to_dict() for r in h.records]
    assert len(again.cycle(2)) == 1


def test_report_fields_and_markdown() -> None:
    h = History()
    h.add(record(1, 0, 0.5, 0.2))
    best = record(2, 0, 0.3, 0.85)
    h.add(best)
    report = build_report("r1", "completed", "max_cycles 2 reached", h, best, 12.3, "eval_loss")
    assert report["total_train_steps"] == 20
    assert report["best"]["metrics"]["exact_match"] == 0.85
    assert [c["cycle"] for c in report["cycles"]] == [1, 2]
    md = render_markdown(report)
    assert "| 2 | 0 |" in md and "completed" in md
