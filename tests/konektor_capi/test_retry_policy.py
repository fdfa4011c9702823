import random

import pytest

from konektor_capi.retry_policy import Backoff, Decision, MetaError, decide, heals_by_waiting

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("error", "decision"),
    [
        (MetaError("timeout"), Decision.RETRY),
        (MetaError("bad gateway", http_status=502), Decision.RETRY),
        (MetaError("not found", http_status=404), Decision.FAIL),
        (MetaError("too many", http_status=429), Decision.RETRY),
        (MetaError("expired", 400, code=190, subcode=463), Decision.FAIL_PIXEL),
        (MetaError("invalid", 400, code=190), Decision.FAIL_PIXEL),
        (MetaError("perm", 400, code=10), Decision.FAIL_PIXEL),
        (MetaError("perm", 400, code=200), Decision.FAIL_PIXEL),
        (MetaError("perm", 400, code=299), Decision.FAIL_PIXEL),
        (MetaError("no pixel", 400, code=100, subcode=33), Decision.FAIL_PIXEL),
        (MetaError("unknown", 500, code=1), Decision.RETRY),
        (MetaError("service", 500, code=2), Decision.RETRY),
        (MetaError("rate", 400, code=4), Decision.RETRY),
        (MetaError("rate", 400, code=17, subcode=2446079), Decision.RETRY),
        (MetaError("rate", 400, code=32), Decision.RETRY),
        (MetaError("rate", 400, code=613, subcode=1487742), Decision.RETRY),
        (MetaError("ads rate", 400, code=80004), Decision.RETRY),
        (MetaError("ads rate", 400, code=80014), Decision.RETRY),
        (MetaError("odd", 400, code=80015), Decision.FAIL),
        (MetaError("transient flag", 400, code=100, is_transient=True), Decision.RETRY),
        (MetaError("invalid param", 400, code=100), Decision.BISECT),
        (MetaError("too old", 400, code=100, subcode=2804003), Decision.BISECT),
        (MetaError("other", 400, code=368), Decision.FAIL),
    ],
)
def test_decide_follows_the_contract_table(error, decision):
    assert decide(error) is decision


def test_backoff_grows_exponentially_and_is_capped():
    backoff = Backoff(base=1.0, cap=8.0)
    rng = random.Random(1)
    delays = [backoff.delay(n, rng=rng) for n in range(1, 8)]
    assert 0.5 <= delays[0] <= 1.0
    assert 1.0 <= delays[1] <= 2.0
    assert 2.0 <= delays[2] <= 4.0
    assert all(d <= 8.0 for d in delays)
    assert delays[-1] >= 4.0  # capped at 8, jittered down to no less than half


def test_backoff_honours_retry_after_up_to_its_own_limit():
    backoff = Backoff(base=0.1, cap=1.0, max_retry_after=30.0)
    assert backoff.delay(1, retry_after=7.0) == 7.0
    assert backoff.delay(1, retry_after=500.0) == 30.0
    assert backoff.delay(1, retry_after=0.0) <= 0.1


def test_reason_names_code_and_subcode():
    assert MetaError("Event Timestamp Too Old", 400, code=100, subcode=2804003).reason == (
        "meta error 100/2804003: Event Timestamp Too Old"
    )
    assert MetaError("ReadTimeout: x").reason.startswith("transport: ")


@pytest.mark.parametrize(
    ("error", "heals"),
    [
        (MetaError("timed out"), True),
        (MetaError("Service unavailable", http_status=503), True),
        (MetaError("x", http_status=400, code=2), True),
        (MetaError("x", http_status=400, code=613, subcode=1487742), True),
        (MetaError("x", http_status=400, code=80004), True),
        (MetaError("Error validating access token", http_status=400, code=190, subcode=463), False),
        (MetaError("Permissions error", http_status=403, code=200), False),
        (MetaError("Unsupported post request", http_status=400, code=100, subcode=33), False),
        (MetaError("Invalid parameter", http_status=400, code=100), False),
        (MetaError("HTTP 404", http_status=404), False),
        (MetaError("HTTP 502", http_status=502), True),
    ],
)
def test_a_failed_reason_says_whether_waiting_can_heal_it(error, heals):
    assert heals_by_waiting(error.reason) is heals


def test_a_reason_that_is_not_metas_does_not_heal_by_waiting():
    assert not heals_by_waiting("pixel has no Conversions API access token configured")
