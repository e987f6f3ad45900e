"""Web app URLs (namespace ``web``)."""

from django.urls import path

from pulseboard.web import (
    urls_annotations,
    urls_live,
    urls_sharing,
    urls_targets,
    urls_teams,
    urls_tree,
)
from pulseboard.web.views import (
    audit,
    auth,
    connections,
    goals,
    history_import,
    home,
    invites,
    kpi_detail,
    kpi_settings,
    kpi_value,
    members,
    org_settings,
    org_switch,
    pull,
    sources,
    tokens,
)

app_name = "web"
urlpatterns = [
    path("", home.home, name="home"),
    path("login/", auth.LoginView.as_view(), name="login"),
    path("logout/", auth.LogoutView.as_view(), name="logout"),
    path("password-reset/", auth.PasswordResetView.as_view(), name="password-reset"),
    path("password-reset/sent/", auth.PasswordResetDoneView.as_view(), name="password-reset-done"),
    path(
        "password-reset/<uidb64>/<token>/",
        auth.PasswordResetConfirmView.as_view(),
        name="password-reset-confirm",
    ),
    path(
        "password-reset/done/",
        auth.PasswordResetCompleteView.as_view(),
        name="password-reset-complete",
    ),
    path("org/switch/", org_switch.org_switch, name="org-switch"),
    path("invite/<str:token>/", invites.invite_accept, name="invite-accept"),
    path("kpis/<str:kpi_id>/", kpi_detail.kpi_detail, name="kpi-detail"),
    path("kpis/<str:kpi_id>/history.csv", kpi_detail.kpi_history_csv, name="kpi-history-csv"),
    path("kpis/<str:kpi_id>/history.json", kpi_detail.kpi_history_json, name="kpi-history-json"),
    path("kpis/<str:kpi_id>/value/", kpi_value.kpi_value, name="kpi-value"),
    path("goals/", goals.goals, name="goals"),
    path("goals/cycles/new/", goals.cycle_create, name="cycle-create"),
    path("goals/cycles/<str:cycle_id>/edit/", goals.cycle_edit, name="cycle-edit"),
    path("goals/cycles/<str:cycle_id>/delete/", goals.cycle_delete, name="cycle-delete"),
    path("goals/objectives/new/", goals.objective_create, name="objective-create"),
    path("goals/objectives/<str:objective_id>/", goals.objective_detail, name="objective-detail"),
    path("goals/objectives/<str:objective_id>/edit/", goals.objective_edit, name="objective-edit"),
    path(
        "goals/objectives/<str:objective_id>/delete/",
        goals.objective_delete,
        name="objective-delete",
    ),
    path("goals/key-results/new/", goals.key_result_create, name="key-result-create"),
    path(
        "goals/key-results/<str:key_result_id>/",
        goals.key_result_detail,
        name="key-result-detail",
    ),
    path(
        "goals/key-results/<str:key_result_id>/edit/",
        goals.key_result_edit,
        name="key-result-edit",
    ),
    path(
        "goals/key-results/<str:key_result_id>/delete/",
        goals.key_result_delete,
        name="key-result-delete",
    ),
    path(
        "goals/key-results/<str:key_result_id>/check-in/",
        goals.key_result_check_in,
        name="key-result-check-in",
    ),
    path("settings/kpis/", kpi_settings.kpi_settings, name="settings-kpis"),
    path("settings/kpis/new/", kpi_settings.kpi_create, name="kpi-create"),
    path("settings/kpis/suggest/", kpi_settings.kpi_suggest, name="kpi-suggest"),
    path("settings/kpis/preview/", kpi_settings.kpi_preview, name="kpi-preview"),
    path("settings/kpis/<str:kpi_id>/edit/", kpi_settings.kpi_edit, name="kpi-edit"),
    path("settings/kpis/<str:kpi_id>/publish/", kpi_settings.kpi_publish, name="kpi-publish"),
    path("settings/kpis/<str:kpi_id>/move/", kpi_settings.kpi_move, name="kpi-move"),
    path("settings/kpis/<str:kpi_id>/delete/", kpi_settings.kpi_delete, name="kpi-delete"),
    path(
        "settings/kpis/<str:kpi_id>/import/",
        history_import.kpi_history_import,
        name="kpi-history-import",
    ),
    path("settings/kpis/<str:kpi_id>/source/", sources.kpi_source, name="kpi-source"),
    path(
        "settings/kpis/<str:kpi_id>/source/rotate/",
        sources.kpi_source_rotate,
        name="kpi-source-rotate",
    ),
    path("settings/kpis/<str:kpi_id>/source/pull/", pull.kpi_source_pull, name="kpi-source-pull"),
    path("settings/members/", members.members, name="members"),
    path("settings/members/invite/", members.member_invite, name="member-invite"),
    path("settings/members/<int:membership_id>/role/", members.member_role, name="member-role"),
    path(
        "settings/members/<int:membership_id>/remove/",
        members.member_remove,
        name="member-remove",
    ),
    path(
        "settings/members/invites/<str:invite_id>/revoke/",
        members.invite_revoke,
        name="invite-revoke",
    ),
    path("settings/tokens/", tokens.tokens, name="tokens"),
    path("settings/tokens/new/", tokens.token_create, name="token-create"),
    path("settings/tokens/<str:token_id>/revoke/", tokens.token_revoke, name="token-revoke"),
    path("settings/audit/", audit.audit, name="audit"),
    path("settings/organization/", org_settings.org_settings, name="org-settings"),
    path("profile/connections/", connections.connections, name="connections"),
    path("profile/connections/start/", connections.connections_start, name="connections-start"),
    # No trailing slash: Google compares the redirect URI byte for byte with the one
    # registered in the Cloud Console, and the docs give it in this form.
    path(
        "profile/connections/callback",
        connections.connections_callback,
        name="connections-callback",
    ),
    path(
        "profile/connections/<str:connection_id>/disconnect/",
        connections.connections_disconnect,
        name="connections-disconnect",
    ),
]
# Each feature keeps its routes in its own module (same ``web`` namespace).
urlpatterns += [
    *urls_teams.urlpatterns,
    *urls_annotations.urlpatterns,
    *urls_tree.urlpatterns,
    *urls_sharing.urlpatterns,
    *urls_targets.urlpatterns,
    *urls_live.urlpatterns,
]
