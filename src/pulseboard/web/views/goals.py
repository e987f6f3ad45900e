"""Goals pages: the Goals board, objective and key result details with the progress chart and
check-ins, and the admins' forms for cycles, objectives and key results.

Every member reads goals; admins create, edit and delete; a key result's owner
(or an admin) checks in on it, which a key result that follows a KPI refuses
(its value is the KPI's). Another org's cycle, objective or key result is a 404
like a missing one. The board reads in a fixed number of queries whatever the
number of objectives and key results (``goals.selectors.goal_board``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from pulseboard.core import clock
from pulseboard.core.api_input import is_object_id
from pulseboard.core.errors import Conflict, NotFound, ValidationFailed
from pulseboard.goals import services
from pulseboard.goals.models import Cycle, KeyResult, Objective
from pulseboard.goals.progress import CycleState, GoalStatus
from pulseboard.goals.selectors import (
    CycleBoard,
    KeyResultCard,
    ObjectiveCard,
    check_in_list,
    cycle_get,
    cycle_list,
    goal_board,
    key_result_cards,
    key_result_get,
    key_result_progress,
    objective_cards,
    objective_get,
    objective_list,
    units_of,
    window_of,
)
from pulseboard.indicators.models import Kpi
from pulseboard.indicators.selectors import kpi_get, kpi_list
from pulseboard.orgs.models import Membership
from pulseboard.orgs.selectors import membership_list
from pulseboard.orgs.teams import team_find, team_list
from pulseboard.web.access import MemberRequest, actor_of, admin_view, member_view
from pulseboard.web.forms import add_errors
from pulseboard.web.goal_charts import ChartPoint, percent, progress_bar, progress_chart
from pulseboard.web.goal_forms import (
    CheckInForm,
    CycleForm,
    KeyResultForm,
    ObjectiveForm,
    cycle_initial,
    key_result_initial,
    objective_initial,
)
from pulseboard.web.live import GOALS, live_page

# The colour a goal status borrows from the KPI palette; the words always go with it.
GOAL_COLOURS = {
    GoalStatus.ON_TRACK: "green",
    GoalStatus.ACHIEVED: "green",
    GoalStatus.AT_RISK: "yellow",
    GoalStatus.BEHIND: "red",
    GoalStatus.MISSED: "red",
    GoalStatus.UNKNOWN: "unknown",
}
CHECK_INS_SHOWN = 50
_Saved = TypeVar("_Saved", Cycle, Objective, KeyResult)


def _bar(progress: float | None, expected: float | None, closed: bool) -> SafeString:
    words = f"{percent(progress)} done" if progress is not None else "no value yet"
    if expected is not None and not closed:
        words += f", {percent(expected)} expected by now"
    # Built and escaped by goal_charts.progress_bar.
    return mark_safe(progress_bar(progress, expected, label=words))  # noqa: S308


@dataclass(frozen=True)
class KeyResultRow:
    card: KeyResultCard
    bar: SafeString
    colour: str
    kpi_visible: bool  # the KPI's name and link may be shown to this viewer

    @property
    def key_result(self) -> KeyResult:
        return self.card.key_result

    @property
    def percent(self) -> str:
        return percent(self.card.progress)


@dataclass(frozen=True)
class ObjectiveRow:
    card: ObjectiveCard
    key_results: list[KeyResultRow]
    bar: SafeString
    colour: str

    @property
    def objective(self) -> Objective:
        return self.card.objective

    @property
    def percent(self) -> str:
        return percent(self.card.progress)


def key_result_row(card: KeyResultCard, is_admin: bool) -> KeyResultRow:
    kpi = card.key_result.kpi if card.key_result.kpi_id else None
    return KeyResultRow(
        card=card,
        bar=_bar(card.progress, card.expected, card.evaluation.state == CycleState.CLOSED),
        colour=GOAL_COLOURS[card.evaluation.status],
        kpi_visible=kpi is not None and (kpi.published or is_admin),
    )


def _objective_row(card: ObjectiveCard, state: CycleState, is_admin: bool) -> ObjectiveRow:
    return ObjectiveRow(
        card=card,
        key_results=[key_result_row(kr, is_admin) for kr in card.key_results],
        bar=_bar(card.progress, card.expected, state == CycleState.CLOSED),
        colour=GOAL_COLOURS[GoalStatus(card.status)],
    )


@dataclass(frozen=True)
class BoardSection:
    board: CycleBoard
    rows: list[ObjectiveRow]

    @property
    def elapsed(self) -> str:
        return percent(self.board.window.elapsed(clock.now()))


def _is_admin(request: MemberRequest) -> bool:
    return bool(request.membership.is_admin)


@member_view
@require_GET
@live_page(GOALS)
def goals(request: MemberRequest) -> HttpResponse:
    org = request.org
    chosen_id = request.GET.get("cycle", "")
    chosen = cycle_get(org=org, cycle_id=chosen_id) if chosen_id else None
    # ?team=<id or slug>: only that team's objectives (another org's team is a 404).
    team_key = request.GET.get("team", "")
    team = team_find(org=org, key=team_key) if team_key else None
    shown, others = goal_board(org=org, now=clock.now(), cycle=chosen, team=team)
    is_admin = _is_admin(request)
    sections = [
        BoardSection(
            board, [_objective_row(card, board.state, is_admin) for card in board.objectives]
        )
        for board in shown
    ]
    # A TemplateResponse, so the live poll (web/live.py) can render only the board partial.
    return TemplateResponse(
        request,
        "web/goals.html",
        {
            "sections": sections,
            "others": others,
            "chosen": chosen,
            "team": team,
            "teams": list(team_list(org=org)),
        },
    )


# --- details and check-ins ----------------------------------------------------------------


@member_view
@require_GET
def objective_detail(request: MemberRequest, objective_id: str) -> HttpResponse:
    org = request.org
    objective = objective_get(org=org, objective_id=objective_id)
    now = clock.now()
    (card,) = objective_cards(org=org, objectives=[objective], now=now)
    state = window_of(org, objective.cycle).state(now)
    row = _objective_row(card, state, _is_admin(request))
    return render(request, "web/objective_detail.html", {"row": row, "objective": objective})


def _key_result_page(
    request: MemberRequest,
    key_result: KeyResult,
    *,
    form: CheckInForm | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    org = request.org
    now = clock.now()
    (card,) = key_result_cards(org=org, key_results=[key_result], now=now)
    row = key_result_row(card, _is_admin(request))
    points = key_result_progress(org=org, key_result=key_result, now=now)
    chart = progress_chart(
        [ChartPoint(p.at, p.progress) for p in points],
        window=card.window,
        kind=key_result.kind,
        now=now,
        timezone=org.timezone,
        title=f"Progress of {key_result.title} against the expected line",
    )
    may_check_in = key_result.kpi_id is None and services.may_check_in(
        key_result=key_result, user_id=request.user.pk, is_admin=_is_admin(request)
    )
    units = units_of(org, key_result)
    check_ins = [
        (check_in, units.format(check_in.value))
        for check_in in check_in_list(org=org, key_result=key_result).order_by(
            "-created_at", "-id"
        )[:CHECK_INS_SHOWN]
    ]
    context: dict[str, Any] = {
        "row": row,
        "key_result": key_result,
        "objective": key_result.objective,
        # Built and escaped by goal_charts.progress_chart.
        "chart": mark_safe(chart),  # noqa: S308
        "has_points": bool(points),
        "check_ins": check_ins,
        "may_check_in": may_check_in,
        "form": form or CheckInForm(unit_type=units.unit_type),
        "error": error,
    }
    return render(request, "web/key_result_detail.html", context, status=status)


@member_view
@require_GET
def key_result_detail(request: MemberRequest, key_result_id: str) -> HttpResponse:
    org = request.org
    return _key_result_page(request, key_result_get(org=org, key_result_id=key_result_id))


@member_view
@require_POST
def key_result_check_in(request: MemberRequest, key_result_id: str) -> HttpResponse:
    org = request.org
    key_result = key_result_get(org=org, key_result_id=key_result_id)
    if not services.may_check_in(
        key_result=key_result, user_id=request.user.pk, is_admin=_is_admin(request)
    ):
        return render(request, "web/forbidden.html", status=403)
    form = CheckInForm(request.POST, unit_type=units_of(org, key_result).unit_type)
    if not form.is_valid():
        return _key_result_page(request, key_result, form=form, status=422)
    try:
        services.check_in_record(
            key_result=key_result,
            actor=actor_of(request),
            value=form.cleaned_data["value"],
            note=form.cleaned_data.get("note") or "",
        )
    except Conflict as exc:
        return _key_result_page(request, key_result, error=exc.message, status=409)
    except ValidationFailed as exc:
        add_errors(form, exc)
        return _key_result_page(request, key_result, form=form, status=422)
    messages.success(request, f"Checked in on “{key_result.title}”.")
    return redirect("web:key-result-detail", key_result_id=key_result.pk)


# --- admin forms --------------------------------------------------------------------------


def _members(request: MemberRequest) -> list[Membership]:
    return list(membership_list(org=request.org))


def _saved(
    request: MemberRequest, form: forms.Form, write: Callable[[], _Saved], message: str
) -> _Saved | None:
    """Run the service ``write`` once ``form`` is valid and flash ``message`` about what it saved.

    ``message`` is formatted with the saved object as ``{0}``. None when the form or the
    service rejected the input: the service's reasons then sit on the form's fields.
    """
    if not form.is_valid():
        return None
    try:
        saved = write()
    except ValidationFailed as exc:
        add_errors(form, exc)
        return None
    messages.success(request, message.format(saved))
    return saved


def _cycle_page(
    request: HttpRequest, form: CycleForm, cycle: Cycle | None, status: int = 200
) -> HttpResponse:
    return render(request, "web/cycle_form.html", {"form": form, "cycle": cycle}, status=status)


@admin_view
@require_http_methods(["GET", "POST"])
def cycle_create(request: MemberRequest) -> HttpResponse:
    if request.method == "GET":
        return _cycle_page(request, CycleForm(), None)
    form = CycleForm(request.POST)
    cycle = _saved(
        request,
        form,
        lambda: services.cycle_create(
            org=request.org, actor=actor_of(request), data=form.service_data()
        ),
        "Created the cycle “{0.name}”.",
    )
    if cycle is None:
        return _cycle_page(request, form, None, status=422)
    return redirect(f"{reverse('web:goals')}?cycle={cycle.pk}")


@admin_view
@require_http_methods(["GET", "POST"])
def cycle_edit(request: MemberRequest, cycle_id: str) -> HttpResponse:
    cycle = cycle_get(org=request.org, cycle_id=cycle_id)
    if request.method == "GET":
        return _cycle_page(request, CycleForm(initial=cycle_initial(cycle)), cycle)
    form = CycleForm(request.POST)
    if not _saved(
        request,
        form,
        lambda: services.cycle_update(
            cycle=cycle, actor=actor_of(request), data=form.service_data()
        ),
        "Saved the cycle “{0.name}”.",
    ):
        return _cycle_page(request, form, cycle, status=422)
    return redirect(f"{reverse('web:goals')}?cycle={cycle.pk}")


def _confirm(
    request: HttpRequest, page: dict[str, str], *, error: str = "", status: int = 200
) -> HttpResponse:
    """The delete confirmation: ``page`` has what, title, consequence, action and cancel."""
    return render(request, "web/goal_delete.html", {**page, "error": error}, status=status)


@admin_view
@require_http_methods(["GET", "POST"])
def cycle_delete(request: MemberRequest, cycle_id: str) -> HttpResponse:
    cycle = cycle_get(org=request.org, cycle_id=cycle_id)
    page = {
        "what": "cycle",
        "title": cycle.name,
        "consequence": "The cycle is deleted. A cycle with objectives cannot be deleted: "
        "delete them or move them to another cycle first.",
        "action": reverse("web:cycle-delete", kwargs={"cycle_id": cycle.pk}),
        "cancel": f"{reverse('web:goals')}?cycle={cycle.pk}",
    }
    if request.method == "GET":
        return _confirm(request, page)
    try:
        services.cycle_delete(cycle=cycle, actor=actor_of(request))
    except Conflict as exc:
        return _confirm(request, page, error=exc.message, status=409)
    messages.success(request, f"Deleted the cycle “{cycle.name}”.")
    return redirect("web:goals")


def _objective_page(
    request: HttpRequest, form: ObjectiveForm, objective: Objective | None, status: int = 200
) -> HttpResponse:
    return render(
        request,
        "web/objective_form.html",
        {"form": form, "objective": objective},
        status=status,
    )


def _objective_form(request: MemberRequest, *args: Any, **kwargs: Any) -> ObjectiveForm:
    cycles = list(cycle_list(org=request.org))
    teams = list(team_list(org=request.org))
    return ObjectiveForm(*args, cycles=cycles, members=_members(request), teams=teams, **kwargs)


@admin_view
@require_http_methods(["GET", "POST"])
def objective_create(request: MemberRequest) -> HttpResponse:
    org = request.org
    if request.method == "GET":
        cycle_id = request.GET.get("cycle", "")
        initial = {"cycle": cycle_get(org=org, cycle_id=cycle_id).pk} if cycle_id else {}
        return _objective_page(request, _objective_form(request, initial=initial), None)
    form = _objective_form(request, request.POST)
    objective = _saved(
        request,
        form,
        lambda: services.objective_create(
            org=org, actor=actor_of(request), data=form.service_data()
        ),
        "Created the objective “{0.title}”.",
    )
    if objective is None:
        return _objective_page(request, form, None, status=422)
    return redirect("web:objective-detail", objective_id=objective.pk)


@admin_view
@require_http_methods(["GET", "POST"])
def objective_edit(request: MemberRequest, objective_id: str) -> HttpResponse:
    org = request.org
    objective = objective_get(org=org, objective_id=objective_id)
    if request.method == "GET":
        form = _objective_form(request, initial=objective_initial(objective))
        return _objective_page(request, form, objective)
    form = _objective_form(request, request.POST)
    if not _saved(
        request,
        form,
        lambda: services.objective_update(
            objective=objective, actor=actor_of(request), data=form.service_data()
        ),
        "Saved the objective “{0.title}”.",
    ):
        return _objective_page(request, form, objective, status=422)
    return redirect("web:objective-detail", objective_id=objective.pk)


@admin_view
@require_http_methods(["GET", "POST"])
def objective_delete(request: MemberRequest, objective_id: str) -> HttpResponse:
    objective = objective_get(org=request.org, objective_id=objective_id)
    if request.method == "GET":
        count = objective.key_results.count()
        return _confirm(
            request,
            {
                "what": "objective",
                "title": objective.title,
                "consequence": f"The objective is deleted with its {count} key "
                f"result{'s' if count != 1 else ''} and their check-ins. "
                "The audit log keeps a record of it. This cannot be undone.",
                "action": reverse("web:objective-delete", kwargs={"objective_id": objective.pk}),
                "cancel": reverse("web:objective-detail", kwargs={"objective_id": objective.pk}),
            },
        )
    services.objective_delete(objective=objective, actor=actor_of(request))
    messages.success(request, f"Deleted the objective “{objective.title}”.")
    return redirect(f"{reverse('web:goals')}?cycle={objective.cycle_id}")


def _key_result_form(request: MemberRequest, *args: Any, **kwargs: Any) -> KeyResultForm:
    org = request.org
    return KeyResultForm(
        *args,
        objectives=list(objective_list(org=org)),
        kpis=list(kpi_list(org=org, include_drafts=True)),
        members=_members(request),
        **kwargs,
    )


def _key_result_form_page(
    request: HttpRequest,
    form: KeyResultForm,
    key_result: KeyResult | None,
    *,
    kpi: Kpi | None = None,
    status: int = 200,
) -> HttpResponse:
    context = {
        "form": form,
        "key_result": key_result,
        "kpi": kpi,
        "has_objectives": bool(form.fields["objective"].choices),  # type: ignore[attr-defined]
    }
    return render(request, "web/key_result_form.html", context, status=status)


@admin_view
@require_http_methods(["GET", "POST"])
def key_result_create(request: MemberRequest) -> HttpResponse:
    """A new key result; ``?kpi=`` starts it from a KPI (start = the KPI's current value)."""
    org = request.org
    if request.method == "GET":
        initial: dict[str, Any] = {"kind": "increase_to", "weight": 1}
        kpi = None
        if request.GET.get("kpi"):
            if not is_object_id(request.GET["kpi"]):
                raise NotFound("KPI not found")
            kpi = kpi_get(org=org, kpi_id=request.GET["kpi"])
            initial.update(
                kpi=kpi.pk,
                title=kpi.title,
                start_value=kpi.current_value,
                unit_type=kpi.unit_type,
                unit_label=kpi.unit_label,
                display_format=kpi.display_format,
            )
        if request.GET.get("objective"):
            initial["objective"] = objective_get(org=org, objective_id=request.GET["objective"]).pk
        form = _key_result_form(request, initial=initial)
        return _key_result_form_page(request, form, None, kpi=kpi)
    form = _key_result_form(request, request.POST)
    key_result = _saved(
        request,
        form,
        lambda: services.key_result_create(
            objective=objective_get(org=org, objective_id=form.cleaned_data["objective"]),
            actor=actor_of(request),
            data=form.service_data(),
        ),
        "Added the key result “{0.title}”.",
    )
    if key_result is None:
        return _key_result_form_page(request, form, None, status=422)
    return redirect("web:objective-detail", objective_id=key_result.objective_id)


@admin_view
@require_http_methods(["GET", "POST"])
def key_result_edit(request: MemberRequest, key_result_id: str) -> HttpResponse:
    org = request.org
    key_result = key_result_get(org=org, key_result_id=key_result_id)
    if request.method == "GET":
        form = _key_result_form(request, initial=key_result_initial(key_result))
        return _key_result_form_page(request, form, key_result)
    form = _key_result_form(request, request.POST)
    if not _saved(
        request,
        form,
        lambda: services.key_result_update(
            key_result=key_result,
            actor=actor_of(request),
            data={**form.service_data(), "objective_id": form.cleaned_data["objective"]},
        ),
        "Saved the key result “{0.title}”.",
    ):
        return _key_result_form_page(request, form, key_result, status=422)
    return redirect("web:key-result-detail", key_result_id=key_result.pk)


@admin_view
@require_http_methods(["GET", "POST"])
def key_result_delete(request: MemberRequest, key_result_id: str) -> HttpResponse:
    org = request.org
    key_result = key_result_get(org=org, key_result_id=key_result_id)
    if request.method == "GET":
        return _confirm(
            request,
            {
                "what": "key result",
                "title": key_result.title,
                "consequence": "The key result is deleted with its check-ins. The audit log "
                "keeps a record of it. This cannot be undone.",
                "action": reverse("web:key-result-delete", kwargs={"key_result_id": key_result.pk}),
                "cancel": reverse("web:key-result-detail", kwargs={"key_result_id": key_result.pk}),
            },
        )
    services.key_result_delete(key_result=key_result, actor=actor_of(request))
    messages.success(request, f"Deleted the key result “{key_result.title}”.")
    return redirect("web:objective-detail", objective_id=key_result.objective_id)
