"""WebDAV/CalDAV request bodies and multistatus parsing (RFC 4918, 4791, 6578).

Kept free of I/O so the protocol corner cases (507 truncation, 404 members,
valid-sync-token errors) are unit-testable without a server.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlsplit
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape

DAV = "DAV:"
CALDAV = "urn:ietf:params:xml:ns:caldav"
CALSERVER = "http://calendarserver.org/ns/"
APPLE_ICAL = "http://apple.com/ns/ical/"

GETETAG = f"{{{DAV}}}getetag"
DISPLAYNAME = f"{{{DAV}}}displayname"
RESOURCETYPE = f"{{{DAV}}}resourcetype"
SYNC_TOKEN = f"{{{DAV}}}sync-token"
GETCTAG = f"{{{CALSERVER}}}getctag"
CALENDAR_COLOR = f"{{{APPLE_ICAL}}}calendar-color"
CALENDAR_DATA = f"{{{CALDAV}}}calendar-data"
CALENDAR_TIMEZONE = f"{{{CALDAV}}}calendar-timezone"
CALENDAR_COLLECTION = f"{{{CALDAV}}}calendar"
SUPPORTED_COMPONENTS = f"{{{CALDAV}}}supported-calendar-component-set"
CURRENT_USER_PRINCIPAL = f"{{{DAV}}}current-user-principal"
CALENDAR_HOME_SET = f"{{{CALDAV}}}calendar-home-set"

_HEAD = '<?xml version="1.0" encoding="utf-8"?>\n'
_NAMESPACES = f'xmlns:D="{DAV}" xmlns:C="{CALDAV}" xmlns:CS="{CALSERVER}" xmlns:I="{APPLE_ICAL}"'

#: Characters left unescaped in a canonical href path (RFC 3986 pchar plus "/").
_PATH_SAFE = "/-._~!$&'()*+,;=:@"


def canonical_href(href: str) -> str:
    """The path of ``href``, percent-encoded one canonical way.

    Servers differ in how they quote the same path ("@" vs "%40"); remote ids
    must not depend on it.
    """
    return quote(unquote(urlsplit(href).path), safe=_PATH_SAFE)


def sync_collection_body(token: str) -> bytes:
    """RFC 6578 sync-collection, level 1, etags only.

    Never sends <limit>: Xandikos ignores it silently and loses changes.
    """
    return (
        f"{_HEAD}<D:sync-collection {_NAMESPACES}>"
        f"<D:sync-token>{escape(token)}</D:sync-token>"
        "<D:sync-level>1</D:sync-level>"
        "<D:prop><D:getetag/></D:prop>"
        "</D:sync-collection>"
    ).encode()


def multiget_body(hrefs: Iterable[str]) -> bytes:
    refs = "".join(f"<D:href>{escape(h)}</D:href>" for h in hrefs)
    return (
        f"{_HEAD}<C:calendar-multiget {_NAMESPACES}>"
        f"<D:prop><D:getetag/><C:calendar-data/></D:prop>{refs}"
        "</C:calendar-multiget>"
    ).encode()


def propfind_body(*props: str) -> bytes:
    """PROPFIND for the given Clark names (``{ns}name``)."""
    prefixes = {DAV: "D", CALDAV: "C", CALSERVER: "CS", APPLE_ICAL: "I"}
    inner = ""
    for clark in props:
        namespace, _, name = clark[1:].partition("}")
        inner += f"<{prefixes[namespace]}:{name}/>"
    return f"{_HEAD}<D:propfind {_NAMESPACES}><D:prop>{inner}</D:prop></D:propfind>".encode()


@dataclass(slots=True)
class Member:
    """One <response> of a multistatus."""

    href: str
    #: The response-level <status> (404 for a removed member, 507 for truncation).
    status: int | None
    #: Properties reported with a 2xx propstat, by Clark name.
    props: dict[str, ET.Element] = field(default_factory=dict)

    def text(self, name: str) -> str | None:
        element = self.props.get(name)
        if element is None:
            return None
        return "".join(element.itertext()).strip() or None

    def href_in(self, name: str) -> str | None:
        """The first DAV:href inside property ``name`` (current-user-principal...)."""
        element = self.props.get(name)
        found = None if element is None else element.find(f"{{{DAV}}}href")
        return None if found is None else (found.text or "").strip() or None

    def raw_text(self, name: str) -> str | None:
        """Element text without stripping (calendar-data keeps its line endings)."""
        element = self.props.get(name)
        return None if element is None else "".join(element.itertext())

    @property
    def ok(self) -> bool:
        return self.status is None or 200 <= self.status < 300


@dataclass(slots=True)
class Multistatus:
    members: list[Member]
    sync_token: str | None


class MultistatusError(ValueError):
    """The body is not a parsable multistatus."""


def parse_xml(body: bytes) -> ET.Element:
    # expat (>= 2.4.1, bundled with every supported CPython) refuses entity
    # expansion bombs and ElementTree never fetches external entities, so the
    # stdlib parser is safe for server replies.
    try:
        return ET.fromstring(body)  # noqa: S314
    except ET.ParseError as exc:
        raise MultistatusError(f"invalid XML: {exc}") from exc


def parse_status(text: str | None) -> int | None:
    """``HTTP/1.1 404 Not Found`` -> 404."""
    if not text:
        return None
    parts = text.split()
    if len(parts) >= 2 and parts[1].isdigit():
        return int(parts[1])
    return None


def parse_multistatus(body: bytes) -> Multistatus:
    root = parse_xml(body)
    if root.tag != f"{{{DAV}}}multistatus":
        raise MultistatusError(f"expected DAV:multistatus, got {root.tag}")
    members: list[Member] = []
    for response in root.findall(f"{{{DAV}}}response"):
        href_element = response.find(f"{{{DAV}}}href")
        if href_element is None or not (href_element.text or "").strip():
            continue
        member = Member(
            href=(href_element.text or "").strip(),
            status=parse_status(response.findtext(f"{{{DAV}}}status")),
        )
        for propstat in response.findall(f"{{{DAV}}}propstat"):
            status = parse_status(propstat.findtext(f"{{{DAV}}}status"))
            prop = propstat.find(f"{{{DAV}}}prop")
            if prop is None or (status is not None and not 200 <= status < 300):
                continue
            for element in prop:
                member.props[element.tag] = element
        members.append(member)
    token = root.findtext(SYNC_TOKEN)
    return Multistatus(members=members, sync_token=token.strip() if token else None)


def error_conditions(body: bytes) -> set[str]:
    """The precondition names in a DAV:error body (``valid-sync-token``...), empty if none."""
    try:
        root = parse_xml(body)
    except MultistatusError:
        return set()
    if root.tag != f"{{{DAV}}}error":
        return set()
    return {child.tag.rpartition("}")[2] for child in root}
