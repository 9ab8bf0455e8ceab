# -*- test-case-name: tests.audience.test_report -*-
"""
Audience figures written out: as JSON-ready values, as CSV, and as the
monthly aggregate tuning hours (ATH) file US webcasters send SoundExchange.

Every function takes values from L{radiod.audience.figures} and returns
plain data or text; nothing here does I/O.

Times are ISO 8601 on the station's clock with their UTC offset
(C{2024-03-31T03:00:00+02:00}), so the two hours labelled 02:00 on the
day clocks go back stay apart.  CSV text follows RFC 4180: comma
separated, fields quoted only when they need it, lines ended by CRLF, a
header line first.

Figures CSV
===========

L{figures_csv} writes one line per period per mount, with the columns of
L{FIGURE_COLUMNS}:

  - C{mount}: the mount, empty for every mount together;
  - C{start}, C{end}: the period's first instant and the instant after
    its last;
  - C{hours}: its length in hours (23, 24 or 25 for a day);
  - C{session_starts}, C{active_sessions}, C{cume}, C{peak}: whole
    numbers;
  - C{tlh}, C{aas}, C{aqh}, C{tsl}, C{atsl}: hours or averages, with
    three decimals;
  - C{<family>_sessions}, C{<family>_tlh} for each family of
    L{radiod.audience.agents.FAMILIES} in its order, spaces written as
    underscores (C{smart_speaker_tlh}).

L{countries_csv} writes the countries, which vary, one line per country
per period per mount (L{COUNTRY_COLUMNS}: C{mount}, C{start}, C{end},
C{country}, C{sessions}, C{tlh}).

ATH CSV
=======

L{ath_csv} writes one line per mount (SoundExchange's channel) for a
month, with the columns of L{ATH_COLUMNS}, named as SoundExchange's Report
of Use names its fields:

  - C{NAME_OF_SERVICE}: the station, with its call letters if it has
    them;
  - C{TRANSMISSION_CATEGORY}: SoundExchange's one-letter category of the
    transmissions (C{A} for a webcast that is not a simulcast, C{B} for a
    broadcaster's simulcast, and so on);
  - C{CHANNEL_OR_PROGRAM_NAME}: the channel's name, by default its mount;
  - C{START_DATE}, C{END_DATE}: the month's first and last days,
    C{YYYY-MM-DD};
  - C{AGGREGATE_TUNING_HOURS}: the ATH, with two decimals.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Final

from radiod.audience.agents import FAMILIES
from radiod.audience.figures import Figures, Period, Share, Tuning

__all__ = [
    "ATH_COLUMNS",
    "COUNTRY_COLUMNS",
    "FIGURE_COLUMNS",
    "ath_csv",
    "countries_csv",
    "figures_csv",
    "figures_json",
    "period_json",
]

_JSON_DIGITS: Final = 6


def _column(family: str) -> str:
    """
    A family's name as it starts CSV column names.
    """
    return family.replace(" ", "_")


FIGURE_COLUMNS: Final[tuple[str, ...]] = (
    "mount",
    "start",
    "end",
    "hours",
    "session_starts",
    "active_sessions",
    "cume",
    "tlh",
    "aas",
    "aqh",
    "tsl",
    "atsl",
    "peak",
    *(f"{_column(family)}_{figure}" for family in FAMILIES for figure in ("sessions", "tlh")),
)
"""
The header of L{figures_csv}.
"""

COUNTRY_COLUMNS: Final[tuple[str, ...]] = ("mount", "start", "end", "country", "sessions", "tlh")
"""
The header of L{countries_csv}.
"""

ATH_COLUMNS: Final[tuple[str, ...]] = (
    "NAME_OF_SERVICE",
    "TRANSMISSION_CATEGORY",
    "CHANNEL_OR_PROGRAM_NAME",
    "START_DATE",
    "END_DATE",
    "AGGREGATE_TUNING_HOURS",
)
"""
The header of L{ath_csv}.
"""


def _moment(when: datetime) -> str:
    """
    An instant as reports write it.
    """
    return when.isoformat()


def _decimal(value: float, places: int = 3) -> str:
    """
    A figure with a fixed number of decimals.
    """
    return f"{value:.{places}f}"


def _share_json(share: Share) -> dict[str, object]:
    """
    A family's or country's share as JSON-ready values.
    """
    return {"sessions": share.sessions, "tlh": round(share.tlh, _JSON_DIGITS)}


def period_json(period: Period) -> dict[str, object]:
    """
    A period's figures as JSON-ready values.

    @param period: the figures.
    @return: a mapping with the keys C{start}, C{end} (ISO 8601 strings),
        C{hours}, C{session_starts}, C{active_sessions}, C{cume}, C{tlh},
        C{aas}, C{aqh}, C{tsl}, C{atsl}, C{peak} (numbers; fractions
        rounded to six decimals), and C{families} and C{countries}, each
        a mapping of names to C{{"sessions": ..., "tlh": ...}}.
    """
    return {
        "start": _moment(period.start),
        "end": _moment(period.end),
        "hours": round(period.hours, _JSON_DIGITS),
        "session_starts": period.session_starts,
        "active_sessions": period.active_sessions,
        "cume": period.cume,
        "tlh": round(period.tlh, _JSON_DIGITS),
        "aas": round(period.aas, _JSON_DIGITS),
        "aqh": round(period.aqh, _JSON_DIGITS),
        "tsl": round(period.tsl, _JSON_DIGITS),
        "atsl": round(period.atsl, _JSON_DIGITS),
        "peak": period.peak,
        "families": {name: _share_json(share) for name, share in period.families.items()},
        "countries": {name: _share_json(share) for name, share in period.countries.items()},
    }


def figures_json(figures: Figures) -> dict[str, object]:
    """
    A range's figures as JSON-ready values.

    @param figures: the figures.
    @return: a mapping with the keys C{mount} (C{None} for every mount),
        C{by}, C{zone} (its name), C{periods} (a list of L{period_json}
        values) and C{total} (the L{period_json} of the whole range).
    """
    return {
        "mount": figures.mount,
        "by": figures.by,
        "zone": str(figures.zone),
        "periods": [period_json(period) for period in figures.periods],
        "total": period_json(figures.total),
    }


def _csv(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """
    CSV text of a header and rows.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def _figure_row(mount: str | None, period: Period) -> list[str]:
    """
    One line of L{figures_csv}.
    """
    row = [
        mount or "",
        _moment(period.start),
        _moment(period.end),
        _decimal(period.hours),
        str(period.session_starts),
        str(period.active_sessions),
        str(period.cume),
        _decimal(period.tlh),
        _decimal(period.aas),
        _decimal(period.aqh),
        _decimal(period.tsl),
        _decimal(period.atsl),
        str(period.peak),
    ]
    for family in FAMILIES:
        share = period.families.get(family, Share(0, 0.0))
        row += [str(share.sessions), _decimal(share.tlh)]
    return row


def figures_csv(all_figures: Iterable[Figures], *, totals: bool = False) -> str:
    """
    Figures as CSV: a header, then one line per period per mount.

    @param all_figures: the figures of each mount, in the order to write
        them (as L{radiod.audience.figures.per_mount} gives them).
    @param totals: whether to follow each mount's periods with a line for
        its whole range (whose cume and peak are counted over the range).
    @return: the text, with the columns of L{FIGURE_COLUMNS}.
    """
    rows = []
    for figures in all_figures:
        rows += [_figure_row(figures.mount, period) for period in figures.periods]
        if totals:
            rows.append(_figure_row(figures.mount, figures.total))
    return _csv(FIGURE_COLUMNS, rows)


def countries_csv(all_figures: Iterable[Figures]) -> str:
    """
    The countries of figures as CSV: a header, then one line per country
    per period per mount.

    @param all_figures: the figures of each mount, in the order to write
        them.
    @return: the text, with the columns of L{COUNTRY_COLUMNS}.
    """
    rows = [
        [
            figures.mount or "",
            _moment(period.start),
            _moment(period.end),
            country,
            str(share.sessions),
            _decimal(share.tlh),
        ]
        for figures in all_figures
        for period in figures.periods
        for country, share in period.countries.items()
    ]
    return _csv(COUNTRY_COLUMNS, rows)


def ath_csv(
    service: str,
    category: str,
    tunings: Iterable[Tuning],
    channels: Mapping[str, str] | None = None,
) -> str:
    """
    A month's aggregate tuning hours as CSV, one line per channel.

    @param service: the name of the service, with its call letters if it
        has them.
    @param category: SoundExchange's transmission category, one capital
        letter.
    @param tunings: the month's figures, from
        L{radiod.audience.figures.aggregate_tuning_hours}.
    @param channels: the channel name of a mount, where it is not the
        mount's own name.
    @return: the text, with the columns of L{ATH_COLUMNS}.
    @raise ValueError: if C{service} is empty or C{category} not a
        capital letter.
    """
    if not service.strip():
        raise ValueError("the report needs the name of the service")
    if not (len(category) == 1 and "A" <= category <= "Z"):
        raise ValueError(f"a transmission category is one capital letter, not {category!r}")
    names = channels or {}
    rows = [
        [
            service,
            category,
            names.get(tuning.mount, tuning.mount),
            tuning.start.date().isoformat(),
            (tuning.end.date() - timedelta(days=1)).isoformat(),
            _decimal(tuning.hours, 2),
        ]
        for tuning in tunings
    ]
    return _csv(ATH_COLUMNS, rows)
