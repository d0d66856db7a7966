"""Credentials a provider refused are not sent again until they change.

Retrying a wrong password every interval shows up on the server as a failed
login every few minutes, which is what fail2ban and account lockout policies
watch for. So when a provider answers "credentials refused"
(`CredentialsInvalid`: a 401/403, a revoked token), the engine stores a
fingerprint of the account's credentials on the profile, and every later run
(scheduled pass, rediscovery, push, app write) stops before contacting the
provider while the configured credentials still have that fingerprint.

What lets it try again:

* different credentials: a config reload (or a fresh ``calsync`` command)
  with another secret, a relinked Google token, ``calsync account add``;
  anything that changes the account's options changes the fingerprint;
* an operator asking for it: ``calsync sync --once --account NAME``;
* anything that marks the profile connected again (`ProfileRepo.set_connected`).

The fingerprint is a SHA-256 over the provider name and the account's options
with the secrets' values, so it reveals nothing and needs no migration when a
provider gains a key.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from calsync.config import AccountSettings, Secret
from calsync.store import ProfileRecord
from calsync.sync.report import AccountSyncReport


def fingerprint(account: AccountSettings) -> str:
    """A stable digest of what the provider authenticates with (and where)."""

    def plain(value: Any) -> Any:
        if isinstance(value, Secret):
            return {"secret": value.reveal()}
        if isinstance(value, dict):
            return {str(k): plain(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [plain(v) for v in value]
        if isinstance(value, str | int | float | bool) or value is None:
            return value
        return str(value)

    data = {"provider": account.provider, "options": plain(dict(account.options))}
    encoded = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(encoded).hexdigest()


def still_refused(profile: ProfileRecord, account: AccountSettings) -> bool:
    """Whether the provider already refused exactly these credentials."""
    return (
        not profile.connected
        and profile.refused_credentials is not None
        and profile.refused_credentials == fingerprint(account)
    )


def refused_report(profile: ProfileRecord, account: AccountSettings) -> AccountSyncReport:
    """The report of a run that did not contact the provider (skipped, and failed)."""
    reason = " ".join((profile.disconnect_reason or "the provider refused the credentials").split())
    return AccountSyncReport(
        account.name,
        error=(
            f"{reason.rstrip('.')}; not retried with the same credentials: change them "
            f"(and reload), or run `calsync sync --once --account {account.name}`"
        ),
        skipped=True,
    )
