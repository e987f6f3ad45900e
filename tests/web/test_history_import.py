"""Settings → KPIs → Import history: upload, preview, import; the file is read again on import."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from tests.factories import KpiFactory, OrganizationFactory
from tests.web.conftest import HTMX

from pulseboard.audit.models import AuditEvent
from pulseboard.core.actors import Actor
from pulseboard.history.models import KpiHistory
from pulseboard.history.services import value_record
from pulseboard.orgs.models import Membership
from pulseboard.web.views import history_import as view

T0 = datetime(2024, 1, 1, tzinfo=UTC)
GOOD = b"observed_at,value\n" + b"".join(
    b"2024-01-%02dT00:00:00Z,%d\n" % (day, day) for day in range(1, 11)
)
BAD = b"observed_at,value\n2024-01-01T00:00:00Z,1\n2024-01-02 00:00,2\n2024-01-03T00:00:00Z,NaN\n"


@pytest.fixture
def kpi(admin: Membership) -> Any:
    return KpiFactory(org=admin.org, title="Signups", shape="stay_above", threshold=5)


def url(kpi: Any) -> str:
    return reverse("web:kpi-history-import", kwargs={"kpi_id": kpi.pk})


def post(client: Client, kpi: Any, data: bytes | None, **fields: str) -> Any:
    form: dict[str, Any] = dict(fields)
    if data is not None:
        form["file"] = SimpleUploadedFile("history.csv", data, content_type="text/csv")
    headers = HTMX if fields.pop("htmx", None) else {}
    form.pop("htmx", None)
    return client.post(url(kpi), form, headers=headers)


def checksum(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_the_page_explains_the_format(admin_client: Client, kpi: Any) -> None:
    page = admin_client.get(url(kpi)).content.decode()
    assert "observed_at" in page and "UTC offset" in page and "10 MiB" in page
    assert 'type="file"' in page and "100,000 rows" in page


def test_the_kpi_page_links_admins_to_it(admin_client: Client, kpi: Any) -> None:
    detail = admin_client.get(reverse("web:kpi-detail", kwargs={"kpi_id": kpi.pk}))
    assert url(kpi) in detail.content.decode()


def test_members_do_not_get_the_link_or_the_page(member_client: Client, kpi: Any) -> None:
    detail = member_client.get(reverse("web:kpi-detail", kwargs={"kpi_id": kpi.pk}))
    assert url(kpi) not in detail.content.decode()
    assert member_client.get(url(kpi)).status_code == 403
    assert post(member_client, kpi, GOOD, step="import", checksum=checksum(GOOD)).status_code == 403
    assert not KpiHistory.objects.exists()


def test_another_orgs_kpi_is_404(admin_client: Client) -> None:
    theirs = KpiFactory(org=OrganizationFactory())
    assert admin_client.get(url(theirs)).status_code == 404
    assert post(admin_client, theirs, GOOD, step="preview").status_code == 404


def test_preview_shows_rows_range_and_skips_and_writes_nothing(
    admin_client: Client, kpi: Any
) -> None:
    value_record(kpi=kpi, value=3, observed_at=T0, source="api", actor=Actor.system("t"))
    response = post(admin_client, kpi, GOOD, step="preview")
    assert response.status_code == 200
    page = response.content.decode()
    assert '<dd id="preview-rows">10</dd>' in page
    assert '<dd id="preview-new">9</dd>' in page
    assert '<dd id="preview-skipped">1</dd>' in page
    assert "1 Jan 2024, 00:00 UTC" in page and "10 Jan 2024, 00:00 UTC" in page
    assert "becomes the newest row" in page
    assert f'name="checksum" value="{checksum(GOOD)}"' in page
    assert "Import 9 rows" in page
    assert "Choose the same file again" in page  # no htmx: the file input is empty again
    assert KpiHistory.objects.filter(kpi=kpi).count() == 1


def test_preview_of_a_bad_file_lists_the_errors_by_line_and_offers_no_import(
    admin_client: Client, kpi: Any
) -> None:
    response = post(admin_client, kpi, BAD, step="preview")
    assert response.status_code == 422
    page = response.content.decode()
    assert "The file has 2 errors; nothing was imported." in page
    assert "Line 3: observed_at &#x27;2024-01-02 00:00&#x27; needs a UTC offset" in page
    assert "Line 4: value &#x27;NaN&#x27; is not a finite number" in page
    assert 'id="import-confirm"' not in page
    assert not KpiHistory.objects.exists()


def test_import_reads_the_file_again_and_writes_it_with_one_audit_event(
    admin_client: Client, admin: Membership, kpi: Any
) -> None:
    response = post(admin_client, kpi, GOOD, step="import", checksum=checksum(GOOD))
    assert response.status_code == 302
    assert response["Location"] == reverse("web:kpi-detail", kwargs={"kpi_id": kpi.pk}) + (
        "?range=all"
    )
    rows = KpiHistory.objects.filter(kpi=kpi).order_by("observed_at")
    assert [row.value for row in rows] == [float(day) for day in range(1, 11)]
    assert {row.source for row in rows} == {"manual"}
    kpi.refresh_from_db()
    assert kpi.current_value == 10.0
    (event,) = AuditEvent.objects.filter(action="history.imported")
    assert event.actor_label == admin.user.email and event.after["rows"] == 10  # type: ignore[index]
    page = admin_client.get(response["Location"]).content.decode()
    assert "Imported 10 rows into Signups." in page


def test_import_refuses_a_file_other_than_the_previewed_one(admin_client: Client, kpi: Any) -> None:
    other = GOOD.replace(b",10\n", b",11\n")
    response = post(admin_client, kpi, other, step="import", checksum=checksum(GOOD))
    assert response.status_code == 409
    assert "This is not the file you previewed" in response.content.decode()
    assert not KpiHistory.objects.exists()
    assert post(admin_client, kpi, GOOD, step="import").status_code == 409
    assert not KpiHistory.objects.exists()


def test_import_of_a_bad_file_is_refused_even_with_its_checksum(
    admin_client: Client, kpi: Any
) -> None:
    response = post(admin_client, kpi, BAD, step="import", checksum=checksum(BAD))
    assert response.status_code == 422
    assert not KpiHistory.objects.exists() and not AuditEvent.objects.exists()


def test_no_file_is_422(admin_client: Client, kpi: Any) -> None:
    response = post(admin_client, kpi, None, step="preview")
    assert response.status_code == 422
    assert "Choose a CSV file first." in response.content.decode()


def test_htmx_gets_the_form_back_and_a_redirect_header_after_the_import(
    admin_client: Client, kpi: Any
) -> None:
    preview = post(admin_client, kpi, GOOD, step="preview", htmx="1")
    page = preview.content.decode()
    assert preview.status_code == 200 and page.lstrip().startswith("<form")
    assert "<html" not in page and "Choose the same file again" not in page
    assert 'hx-preserve="true"' in page
    done = post(admin_client, kpi, GOOD, step="import", checksum=checksum(GOOD), htmx="1")
    assert done.status_code == 204
    assert done["HX-Redirect"].startswith(reverse("web:kpi-detail", kwargs={"kpi_id": kpi.pk}))
    assert KpiHistory.objects.filter(kpi=kpi).count() == 10


def test_htmx_hears_every_refusal_as_422_so_it_is_shown_in_place(
    admin_client: Client, kpi: Any
) -> None:
    response = post(admin_client, kpi, GOOD, step="import", checksum="0" * 64, htmx="1")
    assert response.status_code == 422
    assert "This is not the file you previewed" in response.content.decode()


def test_an_upload_over_the_cap_is_413_and_stops_being_read(
    admin_client: Client, kpi: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(view, "MAX_FILE_BYTES", 100)
    response = post(admin_client, kpi, GOOD, step="import", checksum=checksum(GOOD))
    assert response.status_code == 413
    assert "larger than" in response.content.decode()
    assert not KpiHistory.objects.exists()


def test_an_announced_50_mb_body_is_413_before_it_is_read(admin_client: Client, kpi: Any) -> None:
    response = admin_client.generic(
        "POST",
        url(kpi),
        b"x",
        content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(50 * 1000 * 1000),
    )
    assert response.status_code == 413
    assert not KpiHistory.objects.exists()


def test_the_csrf_token_is_still_required(admin: Membership, kpi: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin.user)
    response = post(client, kpi, GOOD, step="import", checksum=checksum(GOOD))
    assert response.status_code == 403
    assert not KpiHistory.objects.exists()


def test_old_rows_leave_the_current_value_alone(admin_client: Client, kpi: Any) -> None:
    now = datetime.now(UTC)
    value_record(kpi=kpi, value=50, observed_at=now, source="api", actor=Actor.system("t"))
    post(admin_client, kpi, GOOD, step="import", checksum=checksum(GOOD))
    kpi.refresh_from_db()
    assert kpi.current_value == 50 and kpi.observed_at == now
    assert KpiHistory.objects.filter(kpi=kpi, observed_at__lt=now - timedelta(days=1)).count() == 10
