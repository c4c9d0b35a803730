"""The link states the checker derives for each organization's website, and how they read to people.

The checker (checker/history.py) decides the state from the history of checks; the site shows it.
Both import the names from here so the two never drift.
"""

from __future__ import annotations

from datetime import date, datetime

UNCHECKED = "unchecked"        # no check yet
HEALTHY = "healthy"            # latest check reached the organization's site
SUSPECT = "suspect"            # failing lately, not yet confirmed: never shown as red
DOWN = "down"                  # failures repeated over days: shown as unreachable
UNVERIFIABLE = "unverifiable"  # the site blocks automated checks: "could not verify", never broken
REVIEW = "review"              # moved, parked, soft 404 or changed identity: waiting for a person

STATES = (UNCHECKED, HEALTHY, SUSPECT, DOWN, UNVERIFIABLE, REVIEW)

# What visitors read. Wording avoids blame and alarm: a state is about our check, not the charity.
VISITOR_LABELS = {
    UNCHECKED: "Not checked yet",
    HEALTHY: "Website working",
    SUSPECT: "Website working at last full check",
    DOWN: "Website unreachable",
    UNVERIFIABLE: "Could not verify automatically",
    REVIEW: "Website being reviewed",
}

# A short tone name for styling; the label text always carries the meaning too.
TONES = {
    UNCHECKED: "neutral", HEALTHY: "good", SUSPECT: "neutral", DOWN: "bad",
    UNVERIFIABLE: "neutral", REVIEW: "warn",
}


def humane_date(value: str | None, today: date | None = None) -> str | None:
    """'today', 'yesterday', '3 days ago', else '4 March 2026'."""
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00")).date()
    except ValueError:
        return value
    today = today or date.today()
    days = (today - when).days
    if days == 0:
        return "today"
    if days == 1:
        return "yesterday"
    if 1 < days < 14:
        return f"{days} days ago"
    return f"{when.day} {when.strftime('%B %Y')}"


def visitor_detail(state: str, *, last_checked_at: str | None, last_ok_at: str | None,
                   since: str | None, today: date | None = None) -> str:
    """One sentence for visitors about the link, e.g. 'Checked 2 days ago.'"""
    checked = humane_date(last_checked_at, today)
    if state == UNCHECKED or not checked:
        return "We have not checked this website yet."
    if state == HEALTHY:
        return f"Checked {checked}."
    if state == SUSPECT:
        ok = humane_date(last_ok_at, today)
        verified = f"last verified {ok}" if ok else "not yet verified"
        return f"A recent check could not reach it, {verified}; we will check again soon."
    if state == DOWN:
        return f"Our checks have failed since {humane_date(since, today)} (last checked {checked})."
    if state == UNVERIFIABLE:
        return f"The site turns away automated checks, so we could not confirm it (last tried {checked})."
    if state == REVIEW:
        return f"This website may have moved or changed; a maintainer is reviewing it (checked {checked})."
    return f"Checked {checked}."
