"""Review tasks: list them, decide them."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from api.deps import CallerDep, SettingsDep, StoreDep, acting, page
from api.schemas.review import DecisionCreate, DecisionPublic, TaskList
from mdm.lifecycle import decide
from mdm.review import list_tasks
from mdm.rules.match import load_match_rules

router = APIRouter(prefix="/v1/review", tags=["review"])


@router.get("/tasks", response_model=TaskList)
def get_tasks(
    store: StoreDep,
    settings: SettingsDep,
    status: Literal["open", "decided", "linked", "withdrawn"] = "open",
    limit: Annotated[int, Query(ge=1)] = 50,
) -> TaskList:
    """Review tasks of one status, most probable match first."""
    with store.read() as con:
        frame = list_tasks(con, status=status, limit=page(limit, settings))
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return TaskList(tasks=rows, count=len(rows))


@router.post("/tasks/{task_id}/decision", response_model=DecisionPublic)
def post_decision(
    task_id: Annotated[int, Path(ge=1)],
    body: DecisionCreate,
    store: StoreDep,
    settings: SettingsDep,
    caller: CallerDep,
) -> DecisionPublic:
    """Decide a task: the same person, not the same person, or skip (stays open)."""
    learning = load_match_rules(settings.rules).learning
    result, effect = store.steward(
        lambda con, engine: decide(
            con, engine, task_id, body.decision, acting(caller, body.by), learning, body.note
        )
    )
    return DecisionPublic(
        golden_records=effect.get("golden_records", []),
        decision_id=result.decision_id,
        task_id=result.task_id,
        decision=result.decision.value,
        names_confirmed=result.names_confirmed,
        names_disputed=result.names_disputed,
        message=result.message(),
    )
