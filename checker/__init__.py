"""Signpost's checker: verifies organizations' websites politely and judges them from history."""

from checker.outcome import CheckResult, FetchTrace, Hop, Outcome

__all__ = ["CheckResult", "FetchTrace", "Hop", "Outcome"]
