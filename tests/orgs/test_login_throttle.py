"""Login throttling: 5 password checks per (e-mail, client address) per 15 minutes.

Through the real login page (the backend is the one in settings), plus the counter itself
under racing threads.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth import authenticate
from django.test import Client
from django.urls import reverse
from tests.factories import PASSWORD, UserFactory

from pulseboard.core import clock
from pulseboard.orgs.login_throttle import (
    MAX_FAILURES,
    WINDOW,
    LoginThrottled,
    check_slot_take,
    throttle_key,
)
from pulseboard.orgs.models import LoginFailureWindow, User

EMAIL = "ada@example.com"


@pytest.fixture
def user(db: None) -> User:
    return UserFactory(email=EMAIL)


def login(password: str, *, email: str = EMAIL, ip: str = "203.0.113.7") -> tuple[int, str]:
    response = Client(REMOTE_ADDR=ip).post(
        reverse("web:login"), {"username": email, "password": password}
    )
    return response.status_code, response.content.decode()


def fail_until_throttled(**where: str) -> None:
    for _ in range(MAX_FAILURES):
        status, page = login("wrong-guess", **where)
        assert status == 200 and "do not match an account" in page


def test_sixth_attempt_is_refused_even_with_the_right_password_and_says_when_to_retry(
    user: User,
) -> None:
    fail_until_throttled()
    status, page = login(PASSWORD)
    assert status == 200
    assert "Too many failed log-in attempts" in page
    assert "Try again in 15 minutes." in page


def test_the_wait_shown_counts_down_from_the_first_failure(user: User) -> None:
    with time_machine.travel(clock.now(), tick=False) as traveller:
        fail_until_throttled()
        traveller.shift(timedelta(minutes=9, seconds=30))
        _, page = login(PASSWORD)
    assert "Try again in 6 minutes." in page


def test_logins_work_again_once_the_window_has_passed(user: User) -> None:
    with time_machine.travel(clock.now(), tick=False) as traveller:
        fail_until_throttled()
        traveller.shift(WINDOW + timedelta(seconds=1))
        status, _ = login(PASSWORD)
    assert status == 302


def test_a_successful_login_starts_the_count_again(user: User) -> None:
    for _ in range(MAX_FAILURES - 1):
        login("wrong-guess")
    assert login(PASSWORD)[0] == 302
    fail_until_throttled()  # a full five again, not one


@pytest.mark.parametrize(
    "elsewhere",
    [
        pytest.param({"ip": "198.51.100.9"}, id="same-address-other-network"),
        pytest.param({"email": "grace@example.com"}, id="other-address-same-network"),
    ],
)
def test_the_throttle_holds_one_email_and_address_pair_only(
    user: User, elsewhere: dict[str, str]
) -> None:
    UserFactory(email="grace@example.com")
    fail_until_throttled()
    status, page = login(PASSWORD, **elsewhere)
    assert status == 302, page


def test_email_case_and_spaces_do_not_make_a_new_pair(user: User) -> None:
    fail_until_throttled()
    _, page = login(PASSWORD, email="  ADA@Example.COM ")
    assert "Too many failed log-in attempts" in page


def test_unknown_addresses_are_throttled_like_known_ones(db: None) -> None:
    fail_until_throttled(email="nobody@example.com")
    _, page = login("anything", email="nobody@example.com")
    assert "Too many failed log-in attempts" in page


def test_the_table_stores_neither_the_email_nor_the_address(user: User) -> None:
    login("wrong-guess", ip="203.0.113.7")
    row = LoginFailureWindow.objects.get()
    assert row.failures == 1
    stored = f"{row.key} {row}"
    assert EMAIL not in stored and "203.0.113.7" not in stored
    assert row.key == throttle_key(email=EMAIL, ip="203.0.113.7")


def test_authenticate_itself_raises_so_every_login_path_shares_the_throttle(user: User) -> None:
    for _ in range(MAX_FAILURES):
        assert authenticate(None, username=EMAIL, password="wrong-guess") is None
    with pytest.raises(LoginThrottled) as refused:
        authenticate(None, username=EMAIL, password=PASSWORD)
    assert 0 < refused.value.retry_after <= WINDOW.total_seconds()


def test_stale_windows_are_forgotten_when_a_new_pair_fails(user: User) -> None:
    with time_machine.travel(clock.now(), tick=False) as traveller:
        login("wrong-guess", email="old@example.com")
        traveller.shift(WINDOW + timedelta(minutes=1))
        login("wrong-guess")
    assert LoginFailureWindow.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_racing_guesses_never_get_more_than_five_password_checks() -> None:
    key = throttle_key(email=EMAIL, ip="203.0.113.7")
    now = clock.now()
    answers: list[int | None] = []
    lock = threading.Lock()
    start = threading.Barrier(12)

    def guess() -> None:
        from django.db import connection

        start.wait(timeout=10)
        try:
            wait = check_slot_take(key=key, now=now)
        finally:
            connection.close()
        with lock:
            answers.append(wait)

    threads = [threading.Thread(target=guess) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(answers) == 12
    assert answers.count(None) == MAX_FAILURES
    assert LoginFailureWindow.objects.get(key=key).failures == MAX_FAILURES
