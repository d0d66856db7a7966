"""The connect flow's HTML: the chooser, the CalDAV form and the error page.

Server-rendered, no JavaScript, no external assets (one inline style sheet),
one ``<h1>`` per page, labelled form fields, errors announced with
``role="alert"``. Every value is HTML-escaped. Pages never contain a secret:
the CalDAV password is never written back into the form.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from urllib.parse import urlencode

from fastapi.responses import HTMLResponse

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem;
line-height:1.5;color:#1a1a1a;background:#fff}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}
ul.providers{list-style:none;padding:0}
ul.providers a{display:block;margin:.5rem 0;padding:.75rem 1rem;border:2px solid #1a4d8f;
border-radius:.4rem;color:#1a4d8f;font-weight:600;text-decoration:none}
ul.providers a:hover,ul.providers a:focus{background:#1a4d8f;color:#fff}
label{display:block;margin-top:.75rem;font-weight:600}
input{width:100%;box-sizing:border-box;padding:.5rem;border:1px solid #555;border-radius:.3rem;
font-size:1rem}
button{margin-top:1rem;padding:.6rem 1.2rem;font-size:1rem;font-weight:600;color:#fff;
background:#1a4d8f;border:0;border-radius:.3rem}
a:focus,input:focus,button:focus{outline:3px solid #e8a317;outline-offset:2px}
.alert{padding:.75rem 1rem;border-left:4px solid #b00020;background:#fdecee}
.hint{color:#444;font-size:.9rem}
"""

#: Shown on the chooser; provider names are the flow's ``provider_name`` values.
PROVIDER_LABELS = {"google": "Google Calendar", "microsoft": "Microsoft 365 / Outlook"}


def _csp(app_origin: str | None) -> str:
    # The pages need nothing from anywhere: no script, no frame. A form may post only
    # here; browsers apply form-action to the redirects that follow a submission too,
    # so the app's origin (where a successful connect ends) is allowed beside 'self'.
    targets = "'self'" + (f" {app_origin}" if app_origin else "")
    return (
        "default-src 'none'; style-src 'unsafe-inline'; "
        f"form-action {targets}; frame-ancestors 'none'; base-uri 'none'"
    )


HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


def _page(
    title: str, body: str, status: int = 200, *, app_origin: str | None = None
) -> HTMLResponse:
    html = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)} - calsync</title>\n<style>{_STYLE}</style>\n</head>\n"
        f"<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )
    headers = {**HEADERS, "Content-Security-Policy": _csp(app_origin)}
    return HTMLResponse(html, status_code=status, headers=headers)


def error_page(title: str, message: str, status: int = 400) -> HTMLResponse:
    """An error the browser shows instead of a redirect (the redirect target is not trusted)."""
    body = (
        f"<h1>{escape(title)}</h1>\n"
        f'<p class="alert" role="alert">{escape(message)}</p>\n'
        '<p class="hint">Go back to the application and start connecting again.</p>'
    )
    return _page(title, body, status)


def chooser_page(
    handle: str,
    providers: Sequence[str],
    *,
    caldav_error: str | None = None,
    caldav_url: str = "",
    caldav_username: str = "",
    status: int = 200,
    app_origin: str | None = None,
) -> HTMLResponse:
    """Links to each configured provider and the CalDAV form, all bound to ``handle``."""
    links = "".join(
        f'<li><a href="/oauth/connect/{escape(name)}?{escape(urlencode({"request": handle}))}">'
        f"Connect {escape(PROVIDER_LABELS.get(name, name))}</a></li>\n"
        for name in providers
    )
    provider_list = (
        f'<ul class="providers" aria-label="Calendar providers">\n{links}</ul>\n' if links else ""
    )
    alert = (
        f'<p class="alert" role="alert" id="caldav-error">{escape(caldav_error)}</p>\n'
        if caldav_error
        else ""
    )
    described = ' aria-describedby="caldav-error"' if caldav_error else ""
    body = (
        "<h1>Connect your calendar</h1>\n"
        "<p>Choose where your calendar is. You will be asked to sign in there.</p>\n"
        f"{provider_list}"
        '<section aria-labelledby="caldav-heading">\n'
        '<h2 id="caldav-heading">Another CalDAV server</h2>\n'
        '<p class="hint">Nextcloud, Fastmail, iCloud (app password), Radicale and others.</p>\n'
        f"{alert}"
        f'<form method="post" action="/oauth/connect/caldav"{described}>\n'
        f'<input type="hidden" name="request" value="{escape(handle)}">\n'
        '<label for="caldav-url">Server URL</label>\n'
        f'<input id="caldav-url" name="url" type="url" required autocomplete="url" '
        f'placeholder="https://dav.example.org/" value="{escape(caldav_url)}">\n'
        '<label for="caldav-username">User name</label>\n'
        f'<input id="caldav-username" name="username" type="text" required '
        f'autocomplete="username" value="{escape(caldav_username)}">\n'
        '<label for="caldav-password">Password</label>\n'
        '<input id="caldav-password" name="password" type="password" required '
        'autocomplete="current-password">\n'
        '<button type="submit">Connect CalDAV calendar</button>\n'
        "</form>\n</section>"
    )
    return _page("Connect your calendar", body, status, app_origin=app_origin)
