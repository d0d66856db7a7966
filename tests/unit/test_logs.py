"""Logging: text and JSON lines, and no secret or token ever reaches the output."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from calsync.config import Secret
from calsync.logs import configure_logging, redact, register_secret

REGISTERED = "pa55-Registered-Secret-Value"
FROM_CONFIG = "secret-read-from-a-file-42"
ACCESS_TOKEN = "csa_AbCdEfGh12345678_-xyz"
REFRESH_TOKEN = "csr_ZyXwVuTs87654321"
BEARER = "eyJhbGciOiJIUzI1NiJ9.payload.sig"
CLIENT_SECRET = "cl13nt-s3cr3t-in-a-query"
EVERY_SECRET = (REGISTERED, FROM_CONFIG, ACCESS_TOKEN, REFRESH_TOKEN, BEARER, CLIENT_SECRET)

log = logging.getLogger("calsync.test")


@pytest.fixture(autouse=True)
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


def emit_everything() -> None:
    register_secret(REGISTERED)
    from_config = Secret(FROM_CONFIG)
    log.info("plain %s and %r", REGISTERED, from_config.reveal())
    log.info(f"f-string {REGISTERED} Authorization: Bearer {BEARER}")
    log.warning("tokens %s / %s", ACCESS_TOKEN, REFRESH_TOKEN)
    log.info("POST /oauth/token client_secret=%s&grant_type=refresh_token", CLIENT_SECRET)
    log.info("body %s", {"refresh_token": REFRESH_TOKEN, "client_secret": CLIENT_SECRET})
    log.info(
        "with extras",
        extra={
            "access_token": "opaque-provider-token-value",
            "detail": {"nested": [REGISTERED, ACCESS_TOKEN], "password": "p"},
            "header": f"Bearer {BEARER}",
        },
    )
    try:
        raise RuntimeError(f"upstream refused {FROM_CONFIG} with {ACCESS_TOKEN}")
    except RuntimeError:
        log.exception("sync failed for %s", REGISTERED)
    log.info("stack", stack_info=True, extra={"token_in_stack": REGISTERED})


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_no_secret_reaches_the_output(fmt: str) -> None:
    stream = io.StringIO()
    configure_logging("debug", fmt, stream)  # type: ignore[arg-type]
    emit_everything()
    output = stream.getvalue()
    assert "upstream refused" in output  # the traceback was written, only redacted
    assert "RuntimeError" in output
    for secret in EVERY_SECRET:
        assert secret not in output, secret
    assert "opaque-provider-token-value" not in output
    assert "csa_***" in output
    assert "Bearer ***" in output


def test_json_lines_shape() -> None:
    stream = io.StringIO()
    configure_logging("info", "json", stream)
    log.info("hello %s", "world", extra={"calendar_id": "cal_1", "count": 3})
    try:
        1 / 0  # noqa: B018
    except ZeroDivisionError:
        log.exception("boom")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["level"] == "info"
    assert first["logger"] == "calsync.test"
    assert first["msg"] == "hello world"
    assert (first["calendar_id"], first["count"]) == ("cal_1", 3)
    assert first["ts"].endswith("Z")
    assert second["level"] == "error"
    assert "ZeroDivisionError" in second["exc"]


def test_text_line_shape_and_level_filter() -> None:
    stream = io.StringIO()
    configure_logging("warning", "text", stream)
    log.info("hidden")
    log.warning("shown %d", 7, extra={"account": "work"})
    (line,) = stream.getvalue().splitlines()
    assert line.endswith(' WARNING calsync.test: shown 7 account="work"')


def test_configure_again_replaces_the_handler() -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging("info", "text", first)
    configure_logging("info", "json", second)
    log.info("once")
    assert first.getvalue() == ""
    assert len(second.getvalue().splitlines()) == 1


def test_bad_level_or_format_is_refused() -> None:
    with pytest.raises(ValueError):
        configure_logging("loud", "text")
    with pytest.raises(ValueError):
        configure_logging("info", "xml")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Basic setup done", "Basic setup done"),
        ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "Authorization: Basic ***"),
        ('{"access_token": "abc.def"}', '{"access_token": "***"}'),
        ("token csa_short", "token csa_short"),
        ("refresh_token=xyz&a=1", "refresh_token=***&a=1"),
        ("password: hunter2", "password: ***"),
    ],
)
def test_redact_shapes(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_short_values_are_not_registered() -> None:
    register_secret("ab")
    assert redact("a cab b") == "a cab b"


FEED_URL = "https://feeds.example.org/private-abc/basic.ics?token=SECRET-in-the-query"


@pytest.mark.parametrize("level", ["debug", "info"])
def test_http_client_request_logs_never_show_a_url(level: str) -> None:
    """httpx logs every request with its URL at INFO, urllib3 at DEBUG: kept at WARNING."""
    stream = io.StringIO()
    configure_logging(level, "text", stream)
    logging.getLogger("httpx").info('HTTP Request: GET %s "HTTP/1.1 200 OK"', FEED_URL)
    logging.getLogger("urllib3.connectionpool").debug(
        '%s://%s:%s "%s %s %s" %s',
        "https",
        "feeds.example.org",
        443,
        "GET",
        "/private-abc/basic.ics?token=SECRET-in-the-query",
        "HTTP/1.1",
        200,
    )
    logging.getLogger("googleapiclient.discovery").info("URL being requested: GET %s", FEED_URL)
    assert stream.getvalue() == ""
    logging.getLogger("httpx").warning("retrying %s", FEED_URL)
    assert "SECRET" not in stream.getvalue() and "retrying" in stream.getvalue()


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_urls_in_messages_lose_their_secrets(fmt: str) -> None:
    stream = io.StringIO()
    configure_logging("debug", fmt, stream)  # type: ignore[arg-type]
    log.warning("GET %s failed", FEED_URL, extra={"callback": FEED_URL})
    try:
        raise OSError(f"cannot reach {FEED_URL}")
    except OSError:
        log.exception("boom")
    output = stream.getvalue()
    assert "SECRET" not in output and "private-abc" not in output
    assert "https://feeds.example.org/***/basic.ics?token=***" in output


def test_a_library_logging_on_the_root_logger_is_judged_by_its_own_level() -> None:
    """caldav logs an lxml traceback on the *root* logger for a non-XML answer; calsync
    reports that failure itself, so it is dropped unless calsync logs at debug."""
    library_code = compile(
        "import logging\n"
        "try:\n"
        "    raise ValueError('Opening and ending tag mismatch')\n"
        "except ValueError:\n"
        "    logging.info('Expected some valid XML from the server', exc_info=True)\n",
        "/venv/site-packages/caldav/response.py",
        "exec",
    )
    stream = io.StringIO()
    configure_logging("info", "text", stream)
    exec(library_code, {})  # noqa: S102 - runs as if it were the library's module
    assert stream.getvalue() == ""
    logging.getLogger().info("calsync's own root record")  # other root records still pass
    assert "calsync's own root record" in stream.getvalue()
    configure_logging("debug", "text", stream)
    exec(library_code, {})  # noqa: S102
    assert "Expected some valid XML" in stream.getvalue()
