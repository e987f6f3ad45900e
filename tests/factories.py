"""factory_boy factories, one per model, with the organization at the root of every graph."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import factory
from django.utils import timezone

from pulseboard.connectors.models import Source
from pulseboard.goals.models import CheckIn, Cycle, KeyResult, Objective
from pulseboard.history.models import KpiHistory
from pulseboard.indicators.models import Kpi
from pulseboard.orgs.models import Membership, Organization, User
from pulseboard.orgs.roles import Role

PASSWORD = "correct-horse-battery"


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Org {n}")
    slug = factory.Sequence(lambda n: f"org-{n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj: User, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create:
            obj.save()


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    org = factory.SubFactory(OrganizationFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.MEMBER


class KpiFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Kpi
        skip_postgeneration_save = True

    org = factory.SubFactory(OrganizationFactory)
    title = factory.Sequence(lambda n: f"KPI {n}")
    shape = "stay_above"
    threshold = 10.0
    published = True
    position = factory.Sequence(lambda n: n)

    @factory.post_generation
    def source(obj: Kpi, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create:
            Source.objects.create(org=obj.org, kpi=obj, kind=extracted or "manual")


class KpiHistoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = KpiHistory

    kpi = factory.SubFactory(KpiFactory)
    org = factory.SelfAttribute("kpi.org")
    value = 1.0
    observed_at = factory.LazyFunction(timezone.now)
    recorded_at = factory.LazyFunction(timezone.now)
    status = "green"
    source = "manual"


class CycleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Cycle

    org = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Cycle {n}")
    starts_on = factory.LazyFunction(lambda: timezone.now().date() - timedelta(days=45))
    ends_on = factory.LazyFunction(lambda: timezone.now().date() + timedelta(days=44))


class ObjectiveFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Objective

    cycle = factory.SubFactory(CycleFactory)
    org = factory.SelfAttribute("cycle.org")
    title = factory.Sequence(lambda n: f"Objective {n}")


class KeyResultFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = KeyResult

    objective = factory.SubFactory(ObjectiveFactory)
    org = factory.SelfAttribute("objective.org")
    title = factory.Sequence(lambda n: f"Key result {n}")
    kind = "increase_to"
    start_value = 0.0
    target_value = 100.0


class CheckInFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CheckIn

    key_result = factory.SubFactory(KeyResultFactory)
    org = factory.SelfAttribute("key_result.org")
    value = 10.0
    author_label = "test"
    created_at = factory.LazyFunction(timezone.now)
