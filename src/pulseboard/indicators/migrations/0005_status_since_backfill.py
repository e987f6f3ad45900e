"""Status over time for KPIs that existed before it (DESIGN §12).

``status_since``: a KPI with a known status has had it at least since its current value
was observed (or, without one, since it was created); no ``StatusChange`` rows are made
up for the past. ``reevaluate_at``: every KPI with a value whose status or staleness can
change with time alone (an ``expected_every``, a rolling trend baseline) is due at once,
so the worker's first time pass computes its real next moment.
"""

from django.db import migrations
from django.db.models import F, Q
from django.db.models.functions import Coalesce, Now


def backfill(apps, schema_editor):  # type: ignore[no-untyped-def]
    Kpi = apps.get_model("indicators", "Kpi")
    Kpi.objects.filter(status_since__isnull=True).exclude(status="unknown").update(
        status_since=Coalesce(F("observed_at"), F("created_at"))
    )
    time_dependent = ~Q(expected_every="") | Q(shape="trend", baseline_mode="prior_period")
    Kpi.objects.filter(time_dependent, current_value__isnull=False).update(reevaluate_at=Now())


class Migration(migrations.Migration):
    dependencies = [
        ("indicators", "0004_status_changes_targets_teams"),
    ]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
