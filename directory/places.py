"""Places an organization can help in: ISO 3166 codes plus one code for worldwide/online.

Names come from pycountry (the maintained ISO 3166 tables), never from a hand-typed list.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import pycountry

WORLDWIDE = "WORLD"
WORLDWIDE_NAME = "Worldwide (online and international)"


@dataclass(frozen=True)
class Place:
    code: str
    name: str
    kind: str  # "world", "country" or "subdivision"
    parent_code: str | None
    country_code: str | None


def _country_name(country) -> str:
    # common_name reads better for visitors ("Bolivia" rather than "Bolivia, Plurinational State of")
    return getattr(country, "common_name", None) or country.name


@cache
def all_places() -> dict[str, Place]:
    """Every place visitors can pick: the world, every country and every subdivision."""
    places = {WORLDWIDE: Place(WORLDWIDE, WORLDWIDE_NAME, "world", None, None)}
    for country in pycountry.countries:
        places[country.alpha_2] = Place(
            country.alpha_2, _country_name(country), "country", WORLDWIDE, country.alpha_2
        )
    for sub in pycountry.subdivisions:
        places[sub.code] = Place(
            sub.code, sub.name, "subdivision", sub.parent_code or sub.country_code, sub.country_code
        )
    return places


def lookup(code: str) -> Place | None:
    return all_places().get(code) if isinstance(code, str) else None


def is_country(code: str) -> bool:
    place = lookup(code)
    return place is not None and place.kind == "country"


def is_subdivision(code: str) -> bool:
    place = lookup(code)
    return place is not None and place.kind == "subdivision"


def ancestors(code: str) -> list[str]:
    """The place itself and every place containing it, nearest first, ending with WORLD."""
    chain = []
    place = lookup(code)
    while place is not None:
        chain.append(place.code)
        place = lookup(place.parent_code) if place.parent_code else None
    return chain
