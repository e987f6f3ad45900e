from tests.reliability.test_hostile_input import *  # noqa
from hypothesis import find, HealthCheck

def test_debug(target):
    form = WEB_FORMS["kpi create"]
    path = form.path(target)
    before = snapshot()
    strat = hostile_form(form)
    for i in range(300):
        field, data = strat.example()
        response = target.browser.post(path, data)
        changed = changed_tables(before)
        if changed or not (400 <= response.status_code < 500):
            print("FOUND", field, repr(data[field]), response.status_code, changed)
            print(response.content[:2000])
            return
    print("none")
