"""ENTSO-E Transparency Platform: day-ahead prices (documentType A44, item 12.1.D).

One GET per at most one year (the API's limit for A44); the answer is a
``Publication_MarketDocument`` with one ``TimeSeries`` per delivery day (per auction, where a
zone has two) and a ``Period`` of ``Point``s, or an ``Acknowledgement_MarketDocument`` that
explains why there is nothing (usually with HTTP 400).

Two day-ahead auctions may be published for one zone: DE-LU has the SDAC/EPEX price as
``classificationSequence_AttributeInstanceComponent.position`` 1 and the EXAA price as 2. We
serve one sequence only (1 unless told otherwise), never a mix; a TimeSeries without that
element is the zone's only day-ahead price and counts as sequence 1.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from itertools import repeat
from operator import attrgetter, lt
from typing import Any, ClassVar

import httpx
from lxml import etree

from ...config import ConfigError
from ..http import PoliteClient
from ..model import (
    RESOLUTION_SECONDS,
    ZONE_EIC,
    BadRequestError,
    MalformedResponseError,
    NoDataError,
    PriceInterval,
    check_series,
    iso_utc,
)
from . import register

log = logging.getLogger("phoenyra.feed.entsoe")

SOURCE = "entsoe"
DAY = 86_400
# The API takes at most one year per A44 query; 365 days stays under that in leap years too.
MAX_SPAN = 365 * DAY

# Area EIC codes: 16 characters, two digits, an object-type letter, and a check character.
_EIC = re.compile(r"^[0-9]{2}[A-Z][A-Z0-9-]{12}[A-Z0-9-]$")

# One parser for everything we read: no entity substitution, no DTD loading, no network, no
# multi-gigabyte trees. A document with a DTD at all is refused (ENTSO-E never sends one),
# which covers "billion laughs", quadratic blow-up and external entities alike.
_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    huge_tree=False,
    remove_comments=True,
    remove_pis=True,
)

_DOCTYPE = b"<!DOCTYPE"
_REFUSED_DTD = f"{SOURCE}: refused XML with a DOCTYPE (DTDs and entity declarations are unsafe)"
_BY_START = attrgetter("start")

_NO_DATA = "No matching data found"
_TOO_MANY = "exceeds the allowed maximum"


class _TooManyInstancesError(BadRequestError):
    """The API refused the range as too many TimeSeries at once; a shorter range will do."""


@register
class EntsoeSource:
    """Day-ahead prices from the ENTSO-E Transparency Platform REST API."""

    name: ClassVar[str] = SOURCE
    simulated: ClassVar[bool] = False

    def __init__(
        self,
        token: str,
        base_url: str = "https://web-api.tp.entsoe.eu/api",
        *,
        sequence: int = 1,
        max_span: int = MAX_SPAN,
        min_interval: float = 1.0,
        attempts: int = 5,
        backoff: float = 1.0,
        max_backoff: float = 30.0,
        timeout: float = 20.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        if not token:
            raise ConfigError("the ENTSO-E source needs a security token: set ENTSO_E_TOKEN")
        if int(sequence) < 1:
            raise ConfigError(f"classificationSequence position must be 1 or more, not {sequence}")
        if max_span < DAY or max_span > MAX_SPAN:
            raise ConfigError(f"max_span must be between one day and 365 days, not {max_span} s")
        self.token = token
        self.base_url = base_url
        self.sequence = int(sequence)
        self.max_span = int(max_span)
        self.http = PoliteClient(
            SOURCE,
            min_interval=min_interval,
            attempts=attempts,
            backoff=backoff,
            max_backoff=max_backoff,
            timeout=timeout,
            client=client,
        )

    @classmethod
    def from_settings(cls, settings: Any, **options: Any) -> EntsoeSource:
        """``options`` go to the constructor, e.g. ``sequence=2`` for the EXAA price of DE-LU."""
        return cls(settings.entso_e_token, settings.entso_e_base_url, **options)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def fetch(self, zone: str, start: int, end: int) -> list[PriceInterval]:
        """Prices of the delivery periods that lie wholly inside ``[start, end)``, sorted.

        Raises NoDataError when ENTSO-E has nothing for the whole range (its Acknowledgement
        reason is in the message); a range with data in some chunks only returns what exists.
        """
        eic = zone_eic(zone)
        if end <= start:
            raise BadRequestError(f"{SOURCE}: empty range {iso_utc(start)} – {iso_utc(end)}")
        found: list[PriceInterval] = []
        no_data: list[NoDataError] = []
        for lo, hi in split_range(start, end, self.max_span):
            await self._fetch_chunk(eic, lo, hi, found, no_data)
        result = merge(found, start, end)
        if not result:
            if no_data:
                raise no_data[0]
            raise NoDataError(
                f"{SOURCE}: no day-ahead prices for {zone} (sequence {self.sequence}) between "
                f"{iso_utc(start)} and {iso_utc(end)}"
            )
        return result

    async def _fetch_chunk(
        self,
        eic: str,
        lo: int,
        hi: int,
        found: list[PriceInterval],
        no_data: list[NoDataError],
    ) -> None:
        params = {
            "securityToken": self.token,
            "documentType": "A44",
            "in_Domain": eic,
            "out_Domain": eic,
            # A01 = day-ahead; without it some zones mix in intraday auction (A07) prices.
            "contract_MarketAgreement.type": "A01",
            "periodStart": api_time(lo),
            "periodEnd": api_time(-(-hi // 60) * 60),
        }
        try:
            response = await self.http.get(self.base_url, params, classify=classify)
            found.extend(parse_a44(response.content, sequence=self.sequence))
        except _TooManyInstancesError:
            # The platform has at times capped A44 answers at 100 TimeSeries; halve and retry
            # rather than fail a long backfill. Below a day there is nothing left to split.
            if hi - lo <= DAY:
                raise
            mid = lo + (hi - lo) // 7200 * 3600  # on a whole hour, as the query bounds are
            log.info(
                "entsoe: %s – %s too large for one answer; splitting", iso_utc(lo), iso_utc(hi)
            )
            await self._fetch_chunk(eic, lo, mid, found, no_data)
            await self._fetch_chunk(eic, mid, hi, found, no_data)
        except NoDataError as exc:
            no_data.append(exc)


def zone_eic(zone: str) -> str:
    """The EIC code of one of our zone names, or an EIC code as given."""
    if zone in ZONE_EIC:
        return ZONE_EIC[zone]
    if _EIC.match(zone):
        return zone
    raise BadRequestError(
        f"{SOURCE}: unknown zone {zone!r}; use one of {', '.join(ZONE_EIC)} or an EIC code"
    )


def api_time(ts: int) -> str:
    """The API's ``yyyyMMddHHmm`` in UTC."""
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y%m%d%H%M")


def split_range(start: int, end: int, span: int) -> list[tuple[int, int]]:
    return [(lo, min(lo + span, end)) for lo in range(start, end, span)]


def merge(intervals: list[PriceInterval], start: int, end: int) -> list[PriceInterval]:
    """Sorted, inside ``[start, end)``, one interval per delivery period.

    Chunks may overlap (the API answers whole days); an identical period seen twice is kept
    once, while two different prices for one period are left for ``check_series`` to refuse.
    """
    # Parsed documents are already in order, so this sort is a linear pass.
    inside = sorted((iv for iv in intervals if iv.start >= start and iv.end <= end), key=_BY_START)
    result: list[PriceInterval] = []
    prev = None
    for iv in inside:
        if (
            prev is not None
            and iv.start == prev.start
            and iv.end == prev.end
            and iv.price == prev.price
        ):
            continue
        result.append(iv)
        prev = iv
    check_series(result)
    return result


# -- parsing --------------------------------------------------------------------------------


def parse_xml(body: bytes) -> etree._Element:
    """The root element of a safe, well-formed document, or MalformedResponseError."""
    if not body or not body.strip():
        raise MalformedResponseError(f"{SOURCE}: empty response body")
    # Refused before libxml2 sees it, so the refusal does not depend on the parser's own
    # amplification limits; the byte search costs 1.5 ms on a year of PT15M (5 MB).
    if _DOCTYPE in body:
        raise MalformedResponseError(_REFUSED_DTD)
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError as exc:
        # A bomb the byte search cannot see (UTF-16, say) is stopped by libxml2's own
        # amplification limit; name it as what it is.
        what = "unsafe XML (entity expansion)" if "amplification" in str(exc) else "malformed XML"
        raise MalformedResponseError(f"{SOURCE}: {what}: {exc}") from None
    except ValueError as exc:  # lxml's other refusals of its input
        raise MalformedResponseError(f"{SOURCE}: malformed XML: {exc}") from None
    docinfo = root.getroottree().docinfo
    if docinfo.internalDTD is not None or docinfo.externalDTD is not None or docinfo.doctype:
        raise MalformedResponseError(_REFUSED_DTD)
    return root


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _namespace(tag: str) -> str:
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""


def acknowledgement_error(root: etree._Element) -> BadRequestError | NoDataError:
    """What an Acknowledgement_MarketDocument says, as a typed error with its reason text."""
    q = _qualifier(_namespace(root.tag))
    reasons = [
        " ".join(filter(None, [r.findtext(q("code")), (r.findtext(q("text")) or "").strip()]))
        for r in root.iter(q("Reason"))
    ]
    text = "; ".join(reasons) or "acknowledgement without a reason"
    if _NO_DATA.lower() in text.lower():
        return NoDataError(f"{SOURCE}: {text}")
    if _TOO_MANY in text:
        return _TooManyInstancesError(f"{SOURCE}: {text}")
    return BadRequestError(f"{SOURCE}: request refused: {text}")


def classify(response: httpx.Response) -> BadRequestError | NoDataError | None:
    """ENTSO-E explains a refused query (HTTP 400 and the like) in an Acknowledgement body."""
    status = response.status_code
    if status in (401, 403, 429) or status >= 500:
        return None  # the client's own rules (auth error, retries) apply
    try:
        root = parse_xml(response.content)
    except MalformedResponseError:
        return None
    if _local(root.tag) != "Acknowledgement_MarketDocument":
        return None
    return acknowledgement_error(root)


def _qualifier(ns: str) -> Callable[[str], str]:
    prefix = f"{{{ns}}}" if ns else ""
    return lambda name: prefix + name


@lru_cache(maxsize=8)
def _point_paths(ns: str) -> tuple[etree.XPath, etree.XPath, etree.XPath]:
    """Compiled once per namespace: a Period's positions, its prices and its Point count.

    Two text-only XPaths per Period (no element proxies, no smart strings) rather than a find
    per Point, which is a Python-level path search each: 70,000 of them for a year of PT15M.
    """
    nsmap = {"p": ns} if ns else None
    p = "p:" if ns else ""
    return (
        etree.XPath(f"{p}Point/{p}position/text()", namespaces=nsmap, smart_strings=False),
        etree.XPath(f"{p}Point/{p}price.amount/text()", namespaces=nsmap, smart_strings=False),
        etree.XPath(f"count({p}Point)", namespaces=nsmap),
    )


def parse_a44(body: bytes, *, sequence: int = 1) -> list[PriceInterval]:
    """The day-ahead prices of one sequence in an A44 document, one interval per delivery
    period, in document order. An Acknowledgement raises its typed error."""
    root = parse_xml(body)
    kind = _local(root.tag)
    if kind == "Acknowledgement_MarketDocument":
        raise acknowledgement_error(root)
    if kind != "Publication_MarketDocument":
        raise MalformedResponseError(f"{SOURCE}: expected a Publication_MarketDocument, got {kind}")
    # The namespace version changes over the years (7:0, 7:3); read whichever the root has.
    ns = _namespace(root.tag)
    q = _qualifier(ns)
    doc_type = root.findtext(q("type"))
    if doc_type != "A44":
        raise MalformedResponseError(f"{SOURCE}: document type {doc_type}, expected A44")
    positions_of, prices_of, points_of = _point_paths(ns)

    ts_tag, period_tag = q("TimeSeries"), q("Period")
    seq_tag = q("classificationSequence_AttributeInstanceComponent.position")
    contract_tag, currency_tag = q("contract_MarketAgreement.type"), q("currency_Unit.name")
    unit_tag, curve_tag = q("price_Measure_Unit.name"), q("curveType")
    interval_tag, start_tag, end_tag = q("timeInterval"), q("start"), q("end")
    resolution_tag, point_tag = q("resolution"), q("Point")

    out: list[PriceInterval] = []
    seen_sequences: set[int] = set()
    for ts in root.iterchildren(ts_tag):
        # A dozen header leaves per TimeSeries: one walk over the children costs less than a
        # findtext (a Python-level path search in lxml) per field.
        fields: dict[str, str] = {}
        periods = []
        for child in ts:
            if child.tag == period_tag:
                periods.append(child)
            else:
                fields[child.tag] = (child.text or "").strip()
        seq_text = fields.get(seq_tag)
        try:
            seq = int(seq_text) if seq_text else 1
        except ValueError:
            raise MalformedResponseError(
                f"{SOURCE}: classificationSequence position {seq_text!r} is not a number"
            ) from None
        contract = fields.get(contract_tag)
        if contract and contract != "A01":
            continue  # an intraday auction's prices, not day-ahead
        seen_sequences.add(seq)
        if seq != sequence:
            continue
        currency, unit = fields.get(currency_tag), fields.get(unit_tag)
        if (currency and currency != "EUR") or (unit and unit != "MWH"):
            raise MalformedResponseError(
                f"{SOURCE}: prices in {currency}/{unit}; only EUR/MWH is supported"
            )
        curve = fields.get(curve_tag) or "A01"
        if curve not in ("A01", "A03"):
            raise MalformedResponseError(f"{SOURCE}: curveType {curve} is not supported")
        for period in periods:
            head: dict[str, etree._Element] = {}
            for child in period:  # timeInterval and resolution come before the Points
                if child.tag == point_tag:
                    break
                head[child.tag] = child
            interval, res_el = head.get(interval_tag), head.get(resolution_tag)
            if interval is None or res_el is None:
                raise MalformedResponseError(
                    f"{SOURCE}: a Period without a timeInterval or resolution"
                )
            bounds = {c.tag: c.text for c in interval}
            p_start, p_end = _utc(bounds.get(start_tag)), _utc(bounds.get(end_tag))
            resolution = (res_el.text or "").strip()
            step = RESOLUTION_SECONDS.get(resolution)
            if step is None:
                raise MalformedResponseError(f"{SOURCE}: resolution {resolution!r} not supported")
            if p_end <= p_start or (p_end - p_start) % step:
                raise MalformedResponseError(
                    f"{SOURCE}: Period {iso_utc(p_start)} – {iso_utc(p_end)} is not a whole "
                    f"number of {resolution}"
                )
            pos_texts, price_texts = positions_of(period), prices_of(period)
            if not len(pos_texts) == len(price_texts) == int(points_of(period)):
                raise MalformedResponseError(
                    f"{SOURCE}: Period at {iso_utc(p_start)} has a Point without one position "
                    "and one price.amount"
                )
            try:
                positions = list(map(int, pos_texts))
                prices = list(map(float, price_texts))
            except ValueError:
                raise MalformedResponseError(
                    f"{SOURCE}: Period at {iso_utc(p_start)} has a non-numeric position or price"
                ) from None
            out.extend(_intervals(positions, prices, curve, p_start, p_end, step, resolution))
    if not out and seen_sequences and sequence not in seen_sequences:
        raise NoDataError(
            f"{SOURCE}: no TimeSeries with classificationSequence position {sequence} "
            f"(the document has {', '.join(map(str, sorted(seen_sequences)))})"
        )
    return out


def _utc(text: str | None) -> int:
    if not text:
        raise MalformedResponseError(f"{SOURCE}: a Period timeInterval without start or end")
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise MalformedResponseError(f"{SOURCE}: bad timestamp {text!r}") from None
    if moment.tzinfo is None:  # would silently be read as the machine's local time
        raise MalformedResponseError(f"{SOURCE}: timestamp {text!r} has no zone")
    return int(moment.timestamp())


def _intervals(
    positions: list[int],
    prices: list[float],
    curve: str,
    p_start: int,
    p_end: int,
    step: int,
    resolution: str,
) -> list[PriceInterval]:
    """One Period's Points as intervals, the A03 omissions filled in."""
    if not positions:
        return []
    where = f"Period at {iso_utc(p_start)}"
    if not all(map(lt, positions, positions[1:])):
        pairs = sorted(zip(positions, prices, strict=True))
        positions, prices = [p for p, _ in pairs], [v for _, v in pairs]
        if not all(map(lt, positions, positions[1:])):
            raise MalformedResponseError(f"{SOURCE}: {where} repeats a position")
    count = (p_end - p_start) // step
    if positions[0] < 1 or positions[-1] > count:
        raise MalformedResponseError(f"{SOURCE}: {where} has positions outside 1..{count}")
    complete = len(positions) == count  # strictly increasing within 1..count: all there
    if curve == "A01":
        # Fixed-size blocks: every period has its own point; a missing one has no price.
        starts = (
            range(p_start, p_end, step)
            if complete
            else [p_start + (pos - 1) * step for pos in positions]
        )
        values = prices
    else:
        # A03, variable-size blocks: ENTSO-E omits a point equal to the previous one, so each
        # price holds until the next point, the last one to the end of the timeInterval.
        if positions[0] != 1:
            raise MalformedResponseError(f"{SOURCE}: A03 {where} does not start at position 1")
        starts = range(p_start, p_end, step)
        if complete:
            values = prices
        else:
            values = []
            stops = [*positions[1:], count + 1]
            for pos, stop, price in zip(positions, stops, prices, strict=True):
                values.extend(repeat(price, stop - pos))
    return [
        PriceInterval(t, t + step, resolution, price, SOURCE)
        for t, price in zip(starts, values, strict=True)
    ]
