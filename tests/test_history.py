"""Link states judged from history: one failure never turns an entry red."""

import random
from datetime import datetime, timedelta, timezone

import pytest

from checker.history import DEFAULT_POLICY, CheckRecord, derive, next_check_at
from directory import link_states as states

START = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)
SITE = "https://www.example.org/"


def at(days: float) -> str:
    return (START + timedelta(days=days)).isoformat()


def record(days: float, outcome: str, reason: str = "", **kw) -> CheckRecord:
    return CheckRecord(checked_at=at(days), outcome=outcome, reason=reason or outcome, **kw)


def state_of(*records, previous=None):
    return derive("org", SITE, list(records), previous, rng=random.Random(1))


def test_no_history_is_unchecked():
    assert state_of().state == states.UNCHECKED


def test_one_failure_is_only_suspect():
    s = state_of(record(0, "ok", fingerprint="f1"), record(7, "broken", "HTTP 404 at /"))
    assert s.state == states.SUSPECT
    assert s.failures == 1 and s.needs_review == 0
    assert s.last_ok_at == at(0)


def test_failures_within_a_day_are_not_confirmed():
    s = state_of(record(0, "broken"), record(0.3, "transient"), record(0.6, "broken"), record(0.9, "broken"))
    assert s.state == states.SUSPECT and s.failures == 4


def test_repeated_failures_spread_over_days_confirm_down():
    s = state_of(record(0, "ok"), record(7, "broken", "no such domain"), record(8.5, "transient"),
                 record(10, "broken", "no such domain"))
    assert s.state == states.DOWN
    assert s.since == at(7) and s.first_failure_at == at(7)
    assert s.needs_review == 1 and "unreachable since" in s.review_reason


def test_two_failures_over_many_days_are_not_enough():
    s = state_of(record(0, "broken"), record(10, "broken"))
    assert s.state == states.SUSPECT


def test_a_success_resets_the_count():
    s = state_of(record(0, "broken"), record(2, "broken"), record(3, "ok"), record(4, "broken"))
    assert s.state == states.SUSPECT and s.failures == 1


def test_blocked_is_unverifiable_never_broken():
    s = state_of(record(0, "blocked"), record(5, "blocked"), record(10, "blocked"), record(20, "blocked"))
    assert s.state == states.UNVERIFIABLE and s.needs_review == 0


@pytest.mark.parametrize("outcome", ["moved", "parked", "soft_404"])
def test_outcomes_needing_a_person_go_to_review(outcome):
    s = state_of(record(0, "ok"), record(7, outcome, "redirects to other.org", final_url="https://other.org/",
                                          title="Other"))
    assert s.state == states.REVIEW and s.needs_review == 1
    assert s.review_reason == "redirects to other.org"
    assert "https://other.org/" in s.evidence
    assert s.suggested_fix


def test_review_clears_when_the_site_is_healthy_again():
    s = state_of(record(0, "parked"), record(3, "ok", fingerprint="abc"))
    assert s.state == states.HEALTHY and s.needs_review == 0


def test_identity_change_goes_to_review_until_accepted():
    healthy = state_of(record(0, "ok", fingerprint="aaaa", title="Alpha Charity"))
    assert healthy.baseline_fingerprint == "aaaa"
    changed = record(7, "ok", fingerprint="ffff", title="Casino", identity_note="no longer mentions Alpha")
    s = state_of(record(0, "ok", fingerprint="aaaa"), changed, previous=healthy)
    assert s.state == states.REVIEW and "no longer mentions" in s.review_reason
    assert s.baseline_fingerprint == "aaaa"  # the baseline stays the last healthy page
    accepted = s.__class__(**{**s.__dict__, "dismissed_fingerprint": "ffff"})
    s = state_of(record(0, "ok", fingerprint="aaaa"), changed, previous=accepted)
    assert s.state == states.HEALTHY and s.baseline_fingerprint == "ffff"


def test_permanent_redirect_is_healthy_with_a_suggested_fix():
    s = state_of(record(0, "redirected", final_url="https://www.example.org/home"))
    assert s.state == states.HEALTHY
    assert "https://www.example.org/home" in s.suggested_fix


def test_since_keeps_the_start_of_a_state():
    first = state_of(record(0, "ok"))
    second = state_of(record(0, "ok"), record(7, "ok"), previous=first)
    assert second.since == at(0)


def test_new_website_forgets_old_baseline():
    old = state_of(record(0, "ok", fingerprint="aaaa"))
    s = derive("org", "https://new.example.org/", [], old)
    assert s.baseline_fingerprint is None


@pytest.mark.parametrize("state,days", [(states.HEALTHY, 7), (states.SUSPECT, 1), (states.DOWN, 3),
                                        (states.REVIEW, 3), (states.UNVERIFIABLE, 7)])
def test_next_check_is_jittered_around_the_interval(state, days):
    rng = random.Random(7)
    times = [datetime.fromisoformat(next_check_at(state, at(0), rng=rng)) for _ in range(200)]
    offsets = [(t - START).total_seconds() / 86400 for t in times]
    assert min(offsets) >= days * (1 - DEFAULT_POLICY.jitter) - 1e-6
    assert max(offsets) <= days * (1 + DEFAULT_POLICY.jitter) + 1e-6
    assert max(offsets) - min(offsets) > days * DEFAULT_POLICY.jitter  # really spread out


def test_a_merged_organization_redirecting_to_its_successor_is_as_recorded():
    moved = record(0, "moved", "redirects to breastcancernow.org", final_url="https://breastcancernow.org/")
    s = derive("org", SITE, [moved], successor_sites=frozenset({"breastcancernow.org"}), retired=True)
    assert s.state == states.HEALTHY and s.needs_review == 0
    # ...but a redirect elsewhere would still need a person, were it active.
    s = derive("org", SITE, [moved], successor_sites=frozenset({"other.org"}))
    assert s.state == states.REVIEW and s.needs_review == 1


def test_a_closed_organizations_decaying_domain_needs_no_person():
    history = [record(0, "parked", "parking page"), ]
    s = derive("org", SITE, history, retired=True)
    assert s.state == states.REVIEW and s.needs_review == 0
    s = derive("org", SITE, [record(0, "broken"), record(2, "broken"), record(4, "broken")], retired=True)
    assert s.state == states.DOWN and s.needs_review == 0


def test_a_certificate_close_to_expiry_is_an_early_warning_not_a_failure():
    soon = record(0, "ok", tls_expires_at=at(9))
    s = state_of(soon)
    assert s.state == states.HEALTHY and s.needs_review == 0
    assert s.warning == f"TLS certificate expires on {at(9)[:10]} (9 days after the last check)"
    assert state_of(record(0, "ok", tls_expires_at=at(90))).warning is None
