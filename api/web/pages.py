"""The steward pages: routes that render templates and take plain HTML forms.

Why one module of this size: every page shares the sign-in, the CSRF check, the
flash-and-redirect after a form and the error pages; each route is a few lines that
call a use case (mdm.workbench, mdm.lifecycle, mdm.overrides) and render its answer.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path as FilePath
from typing import TYPE_CHECKING, Annotated, Any, cast
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool
from starlette.middleware.sessions import SessionMiddleware

from api.deps import SettingsDep, StoreDep
from api.errors import status_of
from api.routers.names import decide_pair
from api.settings import Settings
from api.web.auth import (
    SESSION_ID,
    BadToken,
    Forbidden,
    SignInRequired,
    StewardDep,
    UserDep,
    check_form,
    csrf_token,
    signed_in_or_none,
)
from mdm.clock import utcnow
from mdm.display import proper_case
from mdm.errors import InputError, MdmError
from mdm.lifecycle import decide, merge, parse_record, unmerge
from mdm.overrides import set_override
from mdm.realtime.steward import MergeNotConfirmed
from mdm.rules.bundle import RulesBundle
from mdm.rules.match import load_match_rules
from mdm.schema import ATTRIBUTES
from mdm.signin import SESSION_SECONDS, Sessions, SignInGuard
from mdm.store.events import history
from mdm.store.names import list_variants, proposal_evidence, supporting_records
from mdm.store.overrides import steward_values
from mdm.store.reads import get_golden
from mdm.store.users import MIN_PASSWORD, User, authenticate, set_password
from mdm.workbench import (
    BANDS,
    CUSTOMERS_PAGE,
    LABELS,
    MISSING_CHOICES,
    PAGE,
    SORTS,
    CustomerQuery,
    QueueFilter,
    claim,
    dashboard,
    engine_names,
    export_customers,
    find_customers,
    golden_records,
    next_task,
    queue,
    queue_customers,
    shown_golden,
    sources,
    task_detail,
    waiting_reasons,
)

if TYPE_CHECKING:
    import duckdb

    from mdm.realtime.engine import Engine
    from mdm.review import DecisionResult
    from mdm.store.service import StoreService

HERE = FilePath(__file__).resolve().parent
templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(prefix="/ui", include_in_schema=False)

TaskId = Annotated[int, Path(ge=1)]
GoldenId = Annotated[str, Path(min_length=1, max_length=200)]


def _page(
    request: Request,
    name: str,
    user: User | None = None,
    status_code: int = 200,
    **context: Any,
) -> Response:
    return templates.TemplateResponse(
        request,
        name,
        {
            "user": user,
            "csrf": csrf_token(request),
            "flash": request.session.pop("flash", None),
            "labels": LABELS,
            "attributes": ATTRIBUTES,
            **context,
        },
        status_code=status_code,
    )


def _back(request: Request, to: str, message: str | None = None) -> RedirectResponse:
    """Post/redirect/get: go to ``to`` and show ``message`` there once."""
    if message:
        request.session["flash"] = message
    return RedirectResponse(to, status_code=303)


def _safe_next(target: str | None) -> str:
    """Only a path on this site (never another host) after signing in."""
    if target and target.startswith("/ui") and not target.startswith("//"):
        return target
    return "/ui/"


# --- signing in ---------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/ui/") -> Response:
    return _page(request, "login.html", next=_safe_next(next))


@router.post("/login")
async def login(request: Request, store: StoreDep) -> Response:
    form = await check_form(request)
    username, password = str(form.get("username", "")), str(form.get("password", ""))
    guard: SignInGuard = request.app.state.sign_in_guard
    address = request.client.host if request.client else "unknown"
    next_page = _safe_next(str(form.get("next")))
    wait = guard.locked_for(username, address)
    if wait:
        minutes = max(1, round(wait / 60))
        return _page(
            request, "login.html", next=next_page, status_code=429,
            error=f"Too many wrong passwords: signing in is paused for this account for about "
            f"{minutes} minute{'s' if minutes > 1 else ''}. Try again then, or ask an "
            "administrator.",
        )  # fmt: skip

    def check() -> User | None:  # scrypt takes ~50 ms of CPU: not on the event loop
        with store.read() as con:
            return authenticate(con, username, password)

    user = await run_in_threadpool(check)
    if user is None:
        guard.failed(username, address)
        return _page(
            request, "login.html", next=next_page, status_code=401,
            error="That name and password do not match. Try again, or ask an administrator.",
        )  # fmt: skip
    guard.succeeded(username)
    sessions: Sessions = request.app.state.sessions
    sessions.end(request.session.get(SESSION_ID))
    request.session.clear()  # a fresh session (and token) for the signed-in user
    request.session[SESSION_ID] = sessions.start(user.username)
    return RedirectResponse(next_page, status_code=303)


@router.post("/logout")
async def logout(request: Request) -> Response:
    await check_form(request)
    request.app.state.sessions.end(request.session.get(SESSION_ID))
    request.session.clear()
    return RedirectResponse("/ui/login", status_code=303)


@router.get("/account", response_class=HTMLResponse)
def account_page(request: Request, user: UserDep) -> Response:
    return _page(request, "account.html", user, min_length=MIN_PASSWORD)


@router.post("/account/password")
async def change_password(request: Request, user: UserDep, store: StoreDep) -> Response:
    """A new password for the signed-in user: the current one first; every other
    session of theirs ends (a session someone else holds is worth nothing after)."""
    form = await check_form(request)
    current, new, again = (str(form.get(k, "")) for k in ("current", "new", "again"))

    def refuse(message: str, status_code: int) -> Response:
        return _page(
            request, "account.html", user, status_code=status_code, error=message,
            min_length=MIN_PASSWORD,
        )  # fmt: skip

    def check() -> User | None:
        with store.read() as con:
            return authenticate(con, user.username, current)

    if await run_in_threadpool(check) is None:
        guard: SignInGuard = request.app.state.sign_in_guard
        guard.failed(user.username, request.client.host if request.client else "unknown")
        return refuse("The current password is not right.", 401)
    if new != again:
        return refuse("The two new passwords differ. Type the same one twice.", 400)

    def store_it() -> None:
        with store.write() as con:
            set_password(con, user.username, new)

    try:
        await run_in_threadpool(store_it)
    except InputError as problem:
        return refuse(str(problem), 400)
    sessions: Sessions = request.app.state.sessions
    ended = sessions.end_all(user.username) - 1  # this one too: it starts afresh
    request.session.clear()
    request.session[SESSION_ID] = sessions.start(user.username)
    others = f" {ended} other session(s) were signed out." if ended > 0 else ""
    return _back(request, "/ui/", f"Password changed.{others}")


# --- reading ------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def home(request: Request, user: UserDep, store: StoreDep) -> Response:
    with store.read() as con:
        figures = dashboard(con)
    return _page(request, "dashboard.html", user, figures=figures)


@router.get("/queue", response_class=HTMLResponse)
def queue_page(
    request: Request,
    user: UserDep,
    store: StoreDep,
    source: str | None = None,
    band: str | None = None,
    age: Annotated[str, Query(max_length=5)] = "",
    sort: str = "probability",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    if age.strip() and not age.strip().isdigit():
        raise InputError("waiting at least: give a number of days, e.g. 7")
    days = int(age) if age.strip() else None  # the form sends an empty field as ""
    wanted = QueueFilter(source or None, band or None, days, sort, page)
    names = engine_names(store.engine) if store.engine is not None else None
    with store.read() as con:
        rows, total = queue(con, wanted, names)
        known = sources(con, store.engine)
    if store.engine is not None:
        queue_customers(store.engine, rows)  # why each waits: fetched by the page
    return _page(
        request, "queue.html", user, rows=rows, total=total, wanted=wanted, sources=known,
        bands=list(BANDS), sorts=list(SORTS), pages=max(1, -(-total // PAGE)),
    )  # fmt: skip


@router.get("/queue/reasons")
def queue_reasons(
    user: UserDep,
    store: StoreDep,
    task: Annotated[list[int], Query(max_length=CUSTOMERS_PAGE)] = [],  # noqa: B006
) -> dict[str, dict[str, list[str]]]:
    """Why each task of a queue page waits (JSON, fetched by the page once shown, so the
    queue itself answers at once): the strongest comparisons for and against."""
    engine = store.current_engine()
    with store.read() as con:
        found = waiting_reasons(con, engine, task)
    return {str(task_id): reasons for task_id, reasons in found.items()}


@router.get("/tasks/{task_id}", response_class=HTMLResponse)
def task_page(request: Request, task_id: TaskId, user: UserDep, store: StoreDep) -> Response:
    engine = store.current_engine()
    with store.read() as con:
        task = task_detail(con, engine, task_id)
    return _page(request, "task.html", user, task=task)


@router.get("/golden/{golden_id}", response_class=HTMLResponse)
def golden_page(request: Request, golden_id: GoldenId, user: UserDep, store: StoreDep) -> Response:
    with store.read() as con:
        golden = shown_golden(get_golden(con, golden_id))
        events = history(con, golden["golden_id"])
        records = golden_records(con, golden["golden_id"])
        steward = steward_values(con, golden["golden_id"])
    events.reverse()  # the latest first
    return _page(request, "golden.html", user, golden=golden, events=events, records=records,
                 steward=steward)  # fmt: skip


def customer_query(
    q: Annotated[str, Query(max_length=200)] = "",
    postcode: Annotated[str, Query(max_length=12)] = "",
    source: Annotated[str, Query(max_length=100)] = "",
    open_tasks: Annotated[str, Query(max_length=3)] = "",
    since: Annotated[str, Query(max_length=10)] = "",
    missing: Annotated[list[str], Query()] = [],  # noqa: B006 - FastAPI copies it
) -> CustomerQuery:
    """The customer list's question, as its form sends it."""
    return CustomerQuery(q, postcode, source, open_tasks == "yes", since, tuple(missing))


CustomerQueryDep = Annotated[CustomerQuery, Depends(customer_query)]


@router.get("/search", response_class=HTMLResponse)
def search_page(
    request: Request,
    user: UserDep,
    store: StoreDep,
    query: CustomerQueryDep,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    """Find customers by any attribute, with filters; the result exports as CSV or Excel."""
    found: list[dict[str, Any]] = []
    total, error = 0, None
    with store.read() as con:
        known = sources(con, store.engine)
        if query.asked():
            try:
                found, total = find_customers(con, query, offset=(page - 1) * CUSTOMERS_PAGE)
            except MdmError as problem:
                error = str(problem)
    return _page(
        request, "search.html", user, query=query, found=found, total=total, error=error,
        sources=known, missing_choices=MISSING_CHOICES, page=page,
        pages=max(1, -(-total // CUSTOMERS_PAGE)), here=str(request.url.query),
    )  # fmt: skip


@router.get("/search/export")
def search_export(
    user: UserDep,
    store: StoreDep,
    query: CustomerQueryDep,
    fmt: Annotated[str, Query(pattern="^(csv|xlsx)$")] = "csv",
) -> Response:
    """The customers a search finds, every one of them, as a file to download."""
    if not query.asked():
        raise InputError("ask something first: a name, a postcode, a source or a filter")
    with store.read() as con:
        data = export_customers(con, query, fmt)
    media = {
        "csv": "text/csv; charset=utf-8",
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    }[fmt]
    return Response(
        data,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="customers.{fmt}"'},
    )


#: Learned proposals the name page lists unless asked for all: a pair that looks like
#: a name and more than one person supports (typos, unlikely pairs and one-offs wait
#: behind). A pair a person proposed is always listed.
WORTH_READING = {"nickname"}
MIN_PEOPLE = 2
#: People shown supporting a proposal, each with their two records side by side.
SIDE_BY_SIDE = 3


def _cased(record: dict[str, Any]) -> dict[str, Any]:
    """A record as a page shows it: names in proper case."""
    return {
        **record,
        **{a: proper_case(record[a]) for a in ("first_name", "last_name") if record.get(a)},
    }


@router.get("/names", response_class=HTMLResponse)
def names_page(
    request: Request, user: UserDep, store: StoreDep, q: str = "", every: str = ""
) -> Response:
    """The proposals worth a steward's time, most evidence first, each with the people
    who support it; typos, unlikely pairs and one-offs only when asked for."""
    with store.read() as con:
        frame = list_variants(con, status="proposed", text=q or None, limit=500)
        people = proposal_evidence(con)  # who used both names
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    for row in rows:
        row["people"] = people.get((row["name"], row["variant"]), [])
    worth = [
        r
        for r in rows
        if r["origin"] != "learned"
        or (r["looks_like"] in WORTH_READING and (r["evidence"] or 0) >= MIN_PEOPLE)
    ]
    shown = (rows if every else worth)[:200]
    wanted = {(r["name"], r["variant"]): r["people"][:SIDE_BY_SIDE] for r in shown}
    with store.read() as con:
        side = supporting_records(con, wanted)
    for row in shown:
        pair = (row["name"], row["variant"])
        row["side_by_side"] = [
            (golden_id, *(_cased(record) for record in side[(pair, golden_id)]))
            for golden_id in row["people"][:SIDE_BY_SIDE]
            if (pair, golden_id) in side
        ]
    return _page(request, "names.html", user, rows=shown, q=q, every=bool(every),
                 hidden=len(rows) - len(worth))  # fmt: skip


# --- deciding -----------------------------------------------------------------------


@router.post("/tasks/{task_id}/claim")
async def claim_task(
    request: Request, task_id: TaskId, user: StewardDep, store: StoreDep
) -> Response:
    await check_form(request)

    def take() -> None:
        with store.write() as con:
            claim(con, task_id, user.username)

    try:
        await run_in_threadpool(take)
    except MdmError as problem:
        return _back(request, f"/ui/tasks/{task_id}", str(problem))
    return _back(request, f"/ui/tasks/{task_id}", f"Task {task_id} is yours.")


@router.post("/tasks/{task_id}/decision")
async def decide_task(
    request: Request, task_id: TaskId, user: StewardDep, store: StoreDep, settings: SettingsDep
) -> Response:
    form = await check_form(request)
    verdict = str(form.get("decision", ""))
    note = str(form.get("note") or "") or None

    def act(con: duckdb.DuckDBPyConnection, engine: Engine) -> tuple[DecisionResult, int | None]:
        learning = load_match_rules(settings.rules).learning
        result, _ = decide(con, engine, task_id, verdict, user.username, learning, note)
        following = next_task(con, user.username, after=task_id)
        return result, following

    try:
        result, following = await run_in_threadpool(store.steward, act)
    except MdmError as problem:
        return _back(request, f"/ui/tasks/{task_id}", str(problem))
    target = f"/ui/tasks/{following}" if following else "/ui/queue"
    return _back(request, target, result.message())


@router.post("/golden/{golden_id}/merge")
async def merge_golden(
    request: Request, golden_id: GoldenId, user: StewardDep, store: StoreDep
) -> Response:
    """Merge another customer into this one. Two customers the model holds to be
    different people are merged only once the steward has seen the evidence against
    and confirmed, with a reason (a page in between)."""
    form = await check_form(request)
    other = str(form.get("other", "")).strip()
    reason = str(form.get("reason") or "") or None
    confirmed = form.get("confirm") == "yes" and reason is not None
    try:
        done = await run_in_threadpool(
            store.steward,
            lambda con, engine: merge(
                con, engine, golden_id, other, user.username, reason, confirmed=confirmed
            ),
        )
    except MergeNotConfirmed as warning:
        customers = await run_in_threadpool(_customers, store, golden_id, other)
        return _page(request, "merge_confirm.html", user, status_code=409,
                     golden_id=golden_id, other=other, reason=reason,
                     evidence=warning.evidence, customers=customers,
                     shown=MERGE_SHOWN)  # fmt: skip
    except MdmError as problem:
        return _back(request, f"/ui/golden/{golden_id}", str(problem))
    return _back(request, f"/ui/golden/{done['golden_id']}", f"Merged into {done['golden_id']}.")


#: What the merge warning shows of each customer, side by side.
MERGE_SHOWN = ("full_name", "date_of_birth", "gender", "email", "phone", "address_line", "city")


def _customers(store: StoreService[Engine], *golden_ids: str) -> list[dict[str, Any]]:
    """The golden records, as the merge warning shows them side by side."""
    with store.read() as con:
        return [shown_golden(get_golden(con, golden_id)) for golden_id in golden_ids]


@router.post("/golden/{golden_id}/value")
async def set_value(
    request: Request, golden_id: GoldenId, user: StewardDep, store: StoreDep, settings: SettingsDep
) -> Response:
    """A steward's value for one attribute (it wins over survivorship until cleared)."""
    form = await check_form(request)
    attribute, value = str(form.get("attribute") or ""), str(form.get("value") or "")
    reason = str(form.get("reason") or "").strip() or None
    survivorship = RulesBundle.load(settings.rules).survivorship

    def act() -> None:
        with store.write() as con:
            set_override(con, golden_id, attribute, value, user.username, reason,
                         survivorship, utcnow())  # fmt: skip

    try:
        await run_in_threadpool(act)
    except MdmError as problem:
        return _back(request, f"/ui/golden/{golden_id}", str(problem))
    label = LABELS.get(attribute, attribute)
    return _back(request, f"/ui/golden/{golden_id}", f"{label} set to {value!r}.")


@router.post("/golden/{golden_id}/unmerge")
async def unmerge_golden(
    request: Request, golden_id: GoldenId, user: StewardDep, store: StoreDep
) -> Response:
    form = await check_form(request)
    reason = str(form.get("reason") or "") or None
    try:
        keys = [parse_record(str(value)) for value in form.getlist("record")]
        done = await run_in_threadpool(
            store.steward,
            lambda con, engine: unmerge(con, engine, golden_id, keys, user.username, reason),
        )
    except MdmError as problem:
        return _back(request, f"/ui/golden/{golden_id}", str(problem))
    into = ", ".join(done["into"])
    return _back(request, f"/ui/golden/{golden_id}", f"Taken out into {into}.")


@router.post("/names/decide")
async def decide_name(request: Request, user: StewardDep, store: StoreDep) -> Response:
    form = await check_form(request)
    approve = form.get("action") == "approve"
    try:
        change = await run_in_threadpool(
            decide_pair,
            store, str(form.get("name", "")), str(form.get("variant", "")), approve, user.username,
        )  # fmt: skip
    except MdmError as problem:
        return _back(request, "/ui/names", str(problem))
    return _back(request, "/ui/names", change.message)


# --- wiring -------------------------------------------------------------------------


def install_web(app: FastAPI, settings: Settings) -> None:
    """Add the pages, their static files, sessions and their error pages to ``app``."""
    secret = settings.session_secret or os.environ.get("MDM_SESSION_SECRET")
    app.state.sessions = Sessions()
    app.state.sign_in_guard = SignInGuard()
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret or secrets.token_urlsafe(32),
        session_cookie="mdm_session",
        max_age=SESSION_SECONDS,
        same_site="strict",
        https_only=settings.secure_cookies,
    )
    app.mount("/ui/static", StaticFiles(directory=HERE / "static"), name="ui-static")
    app.include_router(router)

    @app.exception_handler(SignInRequired)
    async def sign_in(request: Request, _: SignInRequired) -> Response:
        query = f"?{request.url.query}" if request.url.query else ""
        target = quote(str(request.url.path) + query)
        return RedirectResponse(f"/ui/login?next={target}", status_code=303)

    # (installed by api.errors: async, though starlette's type allows a plain function)
    answer_json = cast(
        "Callable[[Request, Exception], Awaitable[Response]]", app.exception_handlers[MdmError]
    )

    @app.exception_handler(MdmError)
    async def mdm_error(request: Request, error: MdmError) -> Response:
        """On the pages, a problem is a page that says what was wrong; elsewhere JSON."""
        if not request.url.path.startswith("/ui"):
            return await answer_json(request, error)
        return await _error_page(request, status_of(error), str(error), "That did not work")

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, _: Forbidden) -> Response:
        return await _error_page(request, 403, "Viewers can read; only stewards can decide.")

    @app.exception_handler(BadToken)
    async def bad_token(request: Request, _: BadToken) -> Response:
        message = "This form has expired. Go back, reload the page and try again."
        return await _error_page(request, 403, message)


async def _error_page(
    request: Request, status_code: int, message: str, title: str | None = None
) -> Response:
    """A page saying what was wrong, with the navigation of whoever is signed in (the
    lookup reads the store: off the event loop)."""
    user = await run_in_threadpool(signed_in_or_none, request)
    return _page(request, "error.html", user, status_code=status_code, title=title,
                 message=message)  # fmt: skip


__all__ = ["install_web", "router"]
