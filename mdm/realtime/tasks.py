"""The real-time engine's open review tasks: at most one per pair of golden records.

A review task asks a steward about two customers (golden records). Several pairs of
their source records may fall in the review band; the task shows the pair with the
strongest evidence (the highest match probability) and the others stay in ``pairs``
as its supporting pairs. The bulk writer keeps the same rule
(:func:`mdm.store.review.open_bulk_tasks`), so both paths open as many tasks.

:meth:`OpenTasks.settle` decides, for the golden records a change touches, which
tasks stay open, which are re-scored, which are withdrawn and which new ones open.
It changes nothing: the engine applies the outcome once the change is written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import cast

Key = tuple[str, str]

#: Probabilities are compared to this many significant digits: the bulk run (DuckDB)
#: and the real-time scorer (Python) sum the same weights in another order, so a copy
#: of a record scores the same but for the last bits, which must not unseat the open
#: task it ties with.
TIE_DIGITS = 9


def _tied(probability: float) -> float:
    return float(f"{probability:.{TIE_DIGITS}g}")


@dataclass(frozen=True)
class ReviewPair:
    """A pair of records scored in the review band by a change: the record changed
    (``key``), the other record and its golden record once the change is made."""

    key: Key
    other: Key
    golden_id: str
    other_golden_id: str
    match_weight: float
    match_probability: float


@dataclass
class Settlement:
    """What a change does to the open tasks (see :meth:`OpenTasks.settle`)."""

    added: list[ReviewPair] = field(default_factory=list)
    rescored: dict[int, tuple[float, float]] = field(default_factory=dict)
    withdrawn: set[int] = field(default_factory=set)
    #: For each pair of golden records a review pair belongs to, its open task: an id,
    #: or the index of the review pair in ``added``, as ("new", i).
    kept: dict[frozenset[str], int | tuple[str, int]] = field(default_factory=dict)


class OpenTasks:
    """The open review tasks in memory: each one's pair of records and probability."""

    def __init__(self) -> None:
        self.by_pair: dict[frozenset[Key], int] = {}
        self.pairs: dict[int, frozenset[Key]] = {}
        self.of_key: dict[Key, set[int]] = {}
        self.probability: dict[int, float] = {}

    def open(self, task_id: int, left: Key, right: Key, probability: float) -> None:
        """Hold task ``task_id`` (records ``left`` and ``right``) as open."""
        pair = frozenset((left, right))
        self.by_pair[pair] = task_id
        self.pairs[task_id] = pair
        self.probability[task_id] = probability
        for key in pair:
            self.of_key.setdefault(key, set()).add(task_id)

    def close(self, task_id: int) -> None:
        """Forget task ``task_id`` (decided or withdrawn)."""
        pair = self.pairs.pop(task_id, None)
        self.probability.pop(task_id, None)
        if pair is None:
            return
        self.by_pair.pop(pair, None)
        for key in pair:
            held = self.of_key.get(key)
            if held is not None:
                held.discard(task_id)
                if not held:
                    del self.of_key[key]

    def of_keys(self, keys: Iterable[Key]) -> set[int]:
        """The open tasks with a record in ``keys``."""
        return {task for key in keys for task in self.of_key.get(key, ())}

    def settle(
        self,
        tasks: Iterable[int],
        review: list[ReviewPair],
        golden_of: Callable[[Key], str | None],
        decided: Callable[[str, str], bool],
    ) -> Settlement:
        """One open task per pair of golden records among ``tasks`` (open task ids) and
        the new ``review`` pairs, ``golden_of`` giving each record's golden id once the
        change is made: a task whose records are now in one golden record is
        withdrawn; of several for one pair of golden records the most probable stays
        (an open task on a tie); none stays for a pair a steward decided."""
        done = Settlement()
        # golden pair -> [(probability, open task first, tie-break, entry)]
        groups: dict[frozenset[str], list[tuple[float, int, int, int | tuple[str, int]]]] = {}
        rescoring: dict[int, ReviewPair] = {}
        for pair in review:
            found = self.by_pair.get(frozenset((pair.key, pair.other)))
            if found is not None:
                rescoring[found] = pair
        for task in sorted(set(tasks) | set(rescoring)):
            golden_ids = {golden_of(key) for key in self.pairs[task]}
            if None in golden_ids:
                continue  # a record is being deleted: the engine withdraws its tasks
            if len(golden_ids) == 1:
                done.withdrawn.add(task)
                continue
            redone = rescoring.get(task)
            p = _tied(redone.match_probability if redone else self.probability[task])
            ends = cast("frozenset[str]", frozenset(golden_ids))  # None is ruled out above
            groups.setdefault(ends, []).append((p, 1, -task, task))
        for i, pair in enumerate(review):
            if frozenset((pair.key, pair.other)) in self.by_pair:
                continue
            ends = frozenset((pair.golden_id, pair.other_golden_id))
            groups.setdefault(ends, []).append((_tied(pair.match_probability), 0, -i, ("new", i)))
        for ends, entries in groups.items():
            if decided(*sorted(ends)):
                done.withdrawn.update(e[3] for e in entries if isinstance(e[3], int))
                continue
            best = max(entries)[3]
            done.kept[ends] = best
            for *_, entry in entries:
                if isinstance(entry, int) and entry != best:
                    done.withdrawn.add(entry)
            if isinstance(best, tuple):
                done.added.append(review[best[1]])
                done.kept[ends] = ("new", len(done.added) - 1)
            elif best in rescoring:
                scored = rescoring[best]
                done.rescored[best] = (scored.match_weight, scored.match_probability)
        return done
