"""What counts as a secret in text calsync shows, decided in one place.

Logs, the rendered config (`calsync config check`), CLI output and error
messages all go through `redact`, so a secret is hidden the same way
wherever it would appear. It removes:

* every value passed to `register_secret` (`calsync.config.secrets.Secret`
  registers each secret file it reads; the config loader registers the
  token-like parts of every URL it loads);
* calsync's own tokens (``csa_…`` access, ``csr_…`` refresh);
* ``Bearer …`` / ``Basic …`` credentials;
* ``client_secret=…``, ``access_token: …`` and similar key/value shapes;
* in every URL (`redact_url`): the password of its userinfo, every query and
  fragment value, and each path segment that looks like a capability. Feed
  and webhook URLs often *are* the credential: ``…/basic.ics?token=…``,
  Google's ``…/private-0123abcd…/basic.ics``, a random token as a path
  segment. Which segment is a capability is a heuristic (`is_capability`):
  a long random-looking token, or Google's ``private-`` marker.
"""

from __future__ import annotations

import re
import threading
from urllib.parse import unquote, urlsplit

__all__ = [
    "REDACTED",
    "is_capability",
    "redact",
    "redact_url",
    "register_secret",
    "register_url_secrets",
]

REDACTED = "***"

#: Shorter registered values are ignored: redacting every "ab" would wreck the
#: logs while protecting nothing a 2-character secret could protect.
MIN_SECRET_LENGTH = 4
#: Query values registered as secrets (URL-shaped text hides every value anyway).
MIN_QUERY_SECRET_LENGTH = 8

_TOKEN_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b(cs[ar]_)[A-Za-z0-9_-]{8,}"), r"\1" + REDACTED),
    (re.compile(r"\b(Bearer\s+)[^\s\"',;]+", re.IGNORECASE), r"\1" + REDACTED),
    # "Basic" is an English word too: only redact what looks like base64 credentials.
    (re.compile(r"\b(Basic\s+)[A-Za-z0-9+/]{8,}={0,2}"), r"\1" + REDACTED),
    (
        # key=value, key: value, "key": "value", 'key': 'value' (dict reprs, JSON, query strings)
        re.compile(
            r"\b((?:client_secret|refresh_token|access_token|id_token|password|passwd|api_key)"
            r"[\"']?\s*[=:]\s*[\"']?)[^\s\"'&,;}\]]+",
            re.IGNORECASE,
        ),
        r"\1" + REDACTED,
    ),
)

#: A URL inside free text: any ``scheme://`` up to whitespace, a quote or a bracket.
_URL_IN_TEXT = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>`\\]+")
#: Punctuation that usually ends the sentence around a URL rather than the URL.
_TRAILING = ".,;:!?)]}"

#: Google Calendar's secret address: ``/calendar/ical/<id>/private-<hex>/basic.ics``.
_PRIVATE_MARKER = re.compile(r"^private[-_]", re.IGNORECASE)
#: Runs of the base64url/hex alphabet long enough to carry a random token.
_TOKEN_RUN = re.compile(r"[A-Za-z0-9_-]{12,}")
_PIECE_SEPARATORS = re.compile(r"[-_]")
_HEX_RUN = re.compile(r"[0-9a-fA-F-]+")

_registry_lock = threading.Lock()
_registered: set[str] = set()
_registered_pattern: re.Pattern[str] | None = None


def register_secret(value: str) -> None:
    """Make sure ``value`` never appears in any redacted output from now on."""
    global _registered_pattern
    value = value.strip()
    if len(value) < MIN_SECRET_LENGTH:
        return
    with _registry_lock:
        if value in _registered:
            return
        _registered.add(value)
        # Longest first, so a secret containing another is removed whole.
        alternatives = sorted(_registered, key=len, reverse=True)
        _registered_pattern = re.compile("|".join(re.escape(v) for v in alternatives))


def _random_looking(run: str) -> bool:
    has_digit = any(c.isdigit() for c in run)
    has_letter = any(c.isalpha() for c in run)
    mixed_case = any(c.isupper() for c in run) and any(c.islower() for c in run)
    pieces = _PIECE_SEPARATORS.split(run)
    if any(len(piece) >= 20 for piece in pieces):
        return True  # no word or name is that long without a separator
    if mixed_case and len(run) >= 20:
        return True  # base64url without a digit: "hDVEVqFUezqfza-NlpmHGqUn"
    if not (has_digit and has_letter):
        return False
    if _HEX_RUN.fullmatch(run) and sum(c != "-" for c in run) >= 16:
        return True  # hex and UUIDs, however the digits and letters fall
    if mixed_case:
        return True  # base64-like: digits and both cases
    return any(
        len(piece) >= 8 and any(c.isdigit() for c in piece) and any(c.isalpha() for c in piece)
        for piece in pieces
    )  # hex or lowercase random: "0f3a9c1e", "v1-k3j5h6g7f8d9"


def is_capability(segment: str) -> bool:
    """Whether a URL path segment looks like a secret (a long random token).

    ``team-holidays-2025.ics`` is not; ``private-0123abcd…``, a UUID, a hex or
    base64url token of 12+ characters mixing letters and digits is.
    """
    text = unquote(segment)
    if _PRIVATE_MARKER.match(text):
        return True
    return any(_random_looking(run) for run in _TOKEN_RUN.findall(text))


def _redact_pairs(text: str) -> str:
    """``a=1&b=2`` -> ``a=***&b=***``; a part without ``=`` is hidden whole."""
    parts = []
    for part in text.split("&"):
        name, sep, value = part.partition("=")
        if sep:
            parts.append(f"{name}={REDACTED}" if value else part)
        else:
            parts.append(REDACTED if part else part)
    return "&".join(parts)


def redact_url(url: str) -> str:
    """``url`` without its secrets: userinfo password, query and fragment values,
    capability-like path segments. Scheme, host, port and the other path
    segments stay, so the URL still says where calsync went."""
    try:
        parts = urlsplit(url)
    except ValueError:
        scheme, sep, _rest = url.partition("://")
        return f"{scheme}{sep}{REDACTED}" if sep else REDACTED
    netloc = parts.netloc
    userinfo, at, host = netloc.rpartition("@")
    if at and ":" in userinfo:
        netloc = f"{userinfo.split(':', 1)[0]}:{REDACTED}@{host}"
    path = "/".join(REDACTED if is_capability(s) else s for s in parts.path.split("/"))
    text = f"{parts.scheme}://{netloc}{path}" if parts.scheme else f"{netloc}{path}"
    if parts.query or url.endswith("?"):
        text += "?" + _redact_pairs(parts.query)
    if parts.fragment:
        text += "#" + _redact_pairs(parts.fragment)
    return text


def register_url_secrets(url: str) -> None:
    """Register the secret parts of ``url`` (its password, token-like query values and
    path segments), so they are hidden even where they appear outside the URL."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return
    if parts.password:
        register_secret(parts.password)
        register_secret(unquote(parts.password))
    for segment in parts.path.split("/"):
        if is_capability(segment):
            register_secret(segment)
            register_secret(unquote(segment))
    for piece in (parts.query + "&" + parts.fragment).split("&"):
        value = piece.partition("=")[2] or piece
        # Short values ("ical", "true") would blank ordinary words all over the logs.
        if len(value) >= MIN_QUERY_SECRET_LENGTH or is_capability(value):
            register_secret(value)
            register_secret(unquote(value))


def _redact_url_match(match: re.Match[str]) -> str:
    url = match.group(0)
    trailer = ""
    while url and url[-1] in _TRAILING:
        if url[-1] == ")" and url.count("(") >= url.count(")"):
            break  # "(…)" inside the URL, as in Wikipedia's: keep it
        trailer = url[-1] + trailer
        url = url[:-1]
    return redact_url(url) + trailer


def redact(text: str) -> str:
    """``text`` with registered secrets, credentials, tokens and URL secrets replaced by ``***``."""
    pattern = _registered_pattern
    if pattern is not None:
        text = pattern.sub(REDACTED, text)
    if "://" in text:
        text = _URL_IN_TEXT.sub(_redact_url_match, text)
    for token_pattern, replacement in _TOKEN_PATTERNS:
        text = token_pattern.sub(replacement, text)
    return text
