"""From the history of checks to each organization's current link state.

One check is an observation, not a verdict. A red state ("down") needs repeated failures spread
over days, as Wikipedia's InternetArchiveBot (three failures at least three days apart) and DMOZ's
Robozilla (a second failure about a week later) require before calling a link dead. A success
resets the count. Moves, parking, soft 404s and identity changes go to a person instead.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone

from checker.outcome import Outcome
from directory import link_states as states
from directory.urls import site_key

FAILURES = {Outcome.BROKEN.value, Outcome.TRANSIENT.value}
NEEDS_A_PERSON = {Outcome.MOVED.value, Outcome.PARKED.value, Outcome.SOFT_404.value}


@dataclass(frozen=True)
class HistoryPolicy:
    failures_to_confirm: int = 3        # failing checks in a row before "down"
    confirm_after_days: float = 3.0     # ...spread over at least this long
    healthy_every_days: float = 7.0     # IABot re-tests live links after a week
    suspect_every_days: float = 1.0     # soon enough to confirm within ~3 days
    down_every_days: float = 3.0        # keep looking for a recovery
    review_every_days: float = 3.0
    unverifiable_every_days: float = 7.0
    jitter: float = 0.15                # +-15% spreads the work over time
    tls_warning_days: float = 21.0      # warn while there is time to renew (Let's Encrypt renews at 30)


DEFAULT_POLICY = HistoryPolicy()


@dataclass(frozen=True)
class CheckRecord:
    """The fields of one stored check that the history rules read."""

    checked_at: str
    outcome: str
    reason: str
    final_url: str | None = None
    status_code: int | None = None
    title: str | None = None
    fingerprint: str | None = None
    identity_note: str | None = None
    tls_expires_at: str | None = None


@dataclass(frozen=True)
class LinkState:
    organization_id: str
    url: str
    state: str
    since: str | None
    last_checked_at: str | None
    last_ok_at: str | None
    last_outcome: str | None
    reason: str | None
    failures: int
    first_failure_at: str | None
    next_check_at: str | None
    needs_review: int
    review_reason: str | None
    suggested_fix: str | None
    evidence: str | None
    baseline_fingerprint: str | None
    baseline_title: str | None
    dismissed_fingerprint: str | None = None
    warning: str | None = None          # an early warning that is not (yet) a failure


def _parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


def _suggested_fix(record: CheckRecord, website: str) -> str | None:
    if record.outcome == Outcome.MOVED.value:
        return (f"If {record.final_url} is the organization's new website, change `website` to it; "
                "if the organization merged or was renamed, set `status` and `successor`.")
    if record.outcome == Outcome.REDIRECTED.value and record.final_url:
        return f"Update `website` to {record.final_url} (permanent redirect)."
    if record.outcome == Outcome.PARKED.value:
        return ("The domain no longer serves the organization: find its current website, or mark it "
                "`status: closed` if it has closed.")
    if record.outcome == Outcome.SOFT_404.value:
        return f"The page is gone: link to the site's home page or the page that replaced {website}."
    if record.identity_note:
        return ("Open the website and confirm it is still the organization; if it is, accept the new "
                "page with `signpost review accept ID`.")
    return None


def derive(organization_id: str, website: str, history: list[CheckRecord],
           previous: LinkState | None = None, *, policy: HistoryPolicy = DEFAULT_POLICY,
           rng: random.Random | None = None, retired: bool = False,
           successor_sites: frozenset[str] = frozenset()) -> LinkState:
    """The current state from the checks of one website, oldest first.

    `retired`: the organization is recorded as merged, renamed or closed, so a dead, parked or
    redirected old domain is expected and needs no person. `successor_sites`: registrable domains
    of its successors; a redirect there confirms the recorded lineage rather than raising it.
    """
    if previous is not None and previous.url != website:
        previous = None  # a new website starts without the old one's baseline
    base = LinkState(
        organization_id, website, states.UNCHECKED, None, None, None, None, None, 0, None, None, 0,
        None, None, None,
        previous.baseline_fingerprint if previous else None,
        previous.baseline_title if previous else None,
        previous.dismissed_fingerprint if previous else None,
    )
    if not history:
        return base
    latest = history[-1]
    last_ok = next((c.checked_at for c in reversed(history)
                    if c.outcome in (Outcome.OK.value, Outcome.REDIRECTED.value)), None)
    streak: list[CheckRecord] = []
    for record in reversed(history):
        if record.outcome not in FAILURES:
            break
        streak.append(record)
    streak.reverse()

    state = base
    evidence = None
    if latest.outcome in FAILURES:
        span_days = (_parse(latest.checked_at) - _parse(streak[0].checked_at)).total_seconds() / 86400
        confirmed = len(streak) >= policy.failures_to_confirm and span_days >= policy.confirm_after_days
        name = states.DOWN if confirmed else states.SUSPECT
        state = replace(state, state=name, failures=len(streak), first_failure_at=streak[0].checked_at,
                        needs_review=1 if confirmed else 0,
                        review_reason=f"unreachable since {streak[0].checked_at[:10]}: {latest.reason}"
                        if confirmed else None)
    elif latest.outcome == Outcome.BLOCKED.value:
        state = replace(state, state=states.UNVERIFIABLE)
    elif latest.outcome == Outcome.MOVED.value and _site(latest.final_url) in successor_sites:
        state = replace(state, state=states.HEALTHY)  # the old domain points at the recorded successor
    elif latest.outcome in NEEDS_A_PERSON:
        state = replace(state, state=states.REVIEW, needs_review=1, review_reason=latest.reason)
        evidence = {"final_url": latest.final_url, "title": latest.title, "status_code": latest.status_code}
    elif latest.identity_note and latest.fingerprint != state.dismissed_fingerprint:
        state = replace(state, state=states.REVIEW, needs_review=1, review_reason=latest.identity_note)
        evidence = {"final_url": latest.final_url, "title": latest.title,
                    "baseline_title": state.baseline_title}
    else:
        state = replace(state, state=states.HEALTHY, baseline_fingerprint=latest.fingerprint,
                        baseline_title=latest.title)

    if retired and state.needs_review:
        # The data already says this organization is gone; its old domain decaying is expected.
        state = replace(state, needs_review=0)

    # "since": when the current state began, found by walking back while it would be the same.
    since = latest.checked_at
    if state.state in (states.SUSPECT, states.DOWN):
        since = streak[0].checked_at
    elif previous is not None and previous.state == state.state and previous.since:
        since = previous.since

    return replace(
        state,
        warning=_tls_warning(latest, policy),
        since=since,
        last_checked_at=latest.checked_at,
        last_ok_at=last_ok,
        last_outcome=latest.outcome,
        reason=latest.reason,
        suggested_fix=_suggested_fix(latest, website),
        evidence=json.dumps(evidence, ensure_ascii=False) if evidence else None,
        next_check_at=next_check_at(state.state, latest.checked_at, policy=policy, rng=rng),
    )


def _tls_warning(record: CheckRecord, policy: HistoryPolicy) -> str | None:
    if not record.tls_expires_at:
        return None
    days_left = (_parse(record.tls_expires_at) - _parse(record.checked_at)).total_seconds() / 86400
    if days_left > policy.tls_warning_days:
        return None
    return f"TLS certificate expires on {record.tls_expires_at[:10]} ({max(days_left, 0):.0f} days after the last check)"


def _site(url: str | None) -> str | None:
    return site_key(url) if url else None


def next_check_at(state: str, checked_at: str, *, policy: HistoryPolicy = DEFAULT_POLICY,
                  rng: random.Random | None = None) -> str:
    days = {
        states.HEALTHY: policy.healthy_every_days,
        states.SUSPECT: policy.suspect_every_days,
        states.DOWN: policy.down_every_days,
        states.REVIEW: policy.review_every_days,
        states.UNVERIFIABLE: policy.unverifiable_every_days,
    }.get(state, 0.0)
    rng = rng or random
    factor = 1 + rng.uniform(-policy.jitter, policy.jitter)
    when = _parse(checked_at) + timedelta(days=days * factor)
    return when.astimezone(timezone.utc).replace(microsecond=0).isoformat()
