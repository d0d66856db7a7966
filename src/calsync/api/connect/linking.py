"""After consent: the account stored, its calendars found, a code for the app.

`link` runs in a worker thread (provider I/O). It lists the calendars with
the new credentials first (for Google that also tells who the user is: the
primary calendar's id), so nothing is stored for credentials that do not work.
Then one transaction stores or updates the connection, its account and
profile, and the calendars, and issues the code.

Relinking: a profile already connected with the same provider identity gets
the new credentials, and keeps its account (``sub``), ``profile_id`` and
calendars (a calendar is found again by its remote id, and undeleted if a
revocation removed it), unless the app asked for ``avoid_linking``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from calsync.api.connect.consent import Granted
from calsync.api.deps import ApiServices
from calsync.errors import CredentialsInvalid
from calsync.model import RemoteCalendar
from calsync.providers import registry
from calsync.providers.connections import CALDAV, GOOGLE, provider_options, seal
from calsync.store.repos.connect import AuthRequestRecord

log = logging.getLogger(__name__)

#: How long the app has to exchange a code (RFC 6749 §4.1.2 recommends at most 10 minutes).
CODE_TTL = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class Linked:
    code: str
    sub: str
    profile_id: str
    relinked: bool


def discover(
    services: ApiServices, provider_name: str, credentials: dict[str, str]
) -> list[RemoteCalendar]:
    """The calendars the credentials can see (raises `CredentialsInvalid` when refused)."""
    options = provider_options(services.settings, provider_name, credentials)
    if options is None:
        raise CredentialsInvalid(f"[providers.{provider_name}] is not configured")
    provider = registry.create(provider_name, f"new {provider_name} profile", options)
    try:
        return list(provider.list_calendars())
    finally:
        provider.close()


def google_identity(remotes: list[RemoteCalendar]) -> tuple[str, str]:
    """(identity, display name): the primary calendar's id is the Google account's address."""
    primary = next((r for r in remotes if r.primary), None)
    if primary is None:
        raise CredentialsInvalid("the Google account has no primary calendar")
    return primary.remote_id, primary.remote_id


def caldav_identity(url: str, username: str) -> tuple[str, str]:
    """(identity, display name) of a CalDAV login: the user at the server."""
    parts = urlsplit(url)
    server = f"{parts.scheme}://{parts.netloc.lower()}{parts.path or '/'}"
    host = parts.hostname or parts.netloc
    return f"{username}\n{server}", f"{username}@{host}" if "@" not in username else username


def link(
    services: ApiServices,
    request: AuthRequestRecord,
    provider_name: str,
    granted: Granted,
) -> Linked:
    remotes = discover(services, provider_name, granted.credentials)
    if provider_name == GOOGLE:
        identity, display = google_identity(remotes)
    elif provider_name == CALDAV:
        identity, display = caldav_identity(
            granted.credentials["url"], granted.credentials.get("username", "")
        )
    else:
        assert granted.identity is not None
        identity, display = granted.identity, granted.display or granted.identity
    sealed = seal(services.settings, granted.credentials)
    taken = frozenset(a.name for a in services.settings.accounts)
    with services.store.write() as uow:
        existing = (
            None
            if request.avoid_linking
            else uow.connections.find_identity(provider_name, identity)
        )
        if existing is not None:
            account_pk, profile_pk = existing.account_pk, existing.profile_pk
            uow.profiles.set_connected(profile_pk, True)
        else:
            account_pk, name = uow.connections.new_account(
                display, taken=taken, email=display if "@" in display else None
            )
            profile_pk = uow.profiles.get_or_create(account_pk, provider_name, name).pk
        uow.connections.save(
            profile_pk,
            provider_name=provider_name,
            identity=identity,
            credentials=sealed,
            client_id=request.client_id,
            redirect_uri=request.redirect_uri,
            scope=request.scope,
        )
        for remote in remotes:
            uow.calendars.upsert_remote(profile_pk, remote)
        code = uow.auth_codes.issue(
            client_id=request.client_id,
            redirect_uri=request.redirect_uri,
            account_pk=account_pk,
            profile_pk=profile_pk,
            scope=request.scope,
            ttl=CODE_TTL,
        )
        account = uow.accounts.get(account_pk)
        profile = uow.profiles.get_by_pk(profile_pk)
    log.info(
        "%s profile %s %s account %s (%d calendar(s))",
        provider_name,
        profile.profile_id,
        "relinked to" if existing is not None else "connected as",
        account.sub,
        len(remotes),
    )
    services.account_changes.changed()
    return Linked(code, account.sub, profile.profile_id, existing is not None)
