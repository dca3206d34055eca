"""The open review tasks: one per pair of golden records, the open one kept on a tie."""

from __future__ import annotations

from mdm.realtime.tasks import OpenTasks, ReviewPair


def test_a_copy_scored_a_bit_differently_by_another_engine_does_not_unseat_the_task() -> None:
    """Bulk (DuckDB) and real time (Python) sum the same weights in another order: a
    copy of a record scores the same but for the last bits. The open task stays."""
    tasks = OpenTasks()
    tasks.open(14, ("web", "1"), ("web", "2"), 0.3791720833656464)
    copy = ReviewPair(("extra", "C"), ("web", "2"), "GA", "GB", -0.71, 0.37917208336564645)
    golden = {("web", "1"): "GA", ("web", "2"): "GB", ("extra", "C"): "GA"}
    settled = tasks.settle({14}, [copy], golden.get, lambda a, b: False)
    assert settled.withdrawn == set() and settled.added == []
    assert settled.kept == {frozenset(("GA", "GB")): 14}
    stronger = ReviewPair(("extra", "C"), ("web", "2"), "GA", "GB", -0.5, 0.38)
    settled = tasks.settle({14}, [stronger], golden.get, lambda a, b: False)
    assert settled.withdrawn == {14} and settled.added == [stronger]
