"""Signpost's directory: curated organizations, their build into SQLite, and the published site."""

from directory.models import Organization, Problem, Tag

__all__ = ["Organization", "Problem", "Tag"]
