"""ORM models of the connect flow (`/oauth/authorize`, issue #12).

* `Connection`: a profile connected through the flow, with its provider
  credentials (a vault ciphertext, never plain) and the provider's own identity
  of the profile (Google primary calendar id, Microsoft user id, CalDAV
  principal URL), which is how a second connection of the same profile finds
  the same account.
* `AuthRequest`: one run of the flow in one browser, from `/oauth/authorize` to
  the provider's callback. Its handle (the ``state`` sent to the provider) is
  stored only as a SHA-256, as is the browser cookie that binds it.
* `AuthCode`: the code handed to the app, stored as a SHA-256, bound to the
  client and redirect URI, single use.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from calsync.store.models import Base


class Connection(Base):
    __tablename__ = "connections"
    __table_args__ = (Index(None, "provider_name", "identity"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    profile_id: Mapped[int] = mapped_column(
        ForeignKey("profiles.id", ondelete="CASCADE"), unique=True
    )
    provider_name: Mapped[str] = mapped_column(String(64))
    identity: Mapped[str] = mapped_column(String(1024))
    #: Vault ciphertext of a JSON object; None once revoked.
    credentials: Mapped[str | None] = mapped_column(Text)
    #: Where the app sent the user from: the relink URL sends them through it again.
    client_id: Mapped[str] = mapped_column(String(512))
    redirect_uri: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class AuthRequest(Base):
    __tablename__ = "auth_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    handle_hash: Mapped[str] = mapped_column(String(64), unique=True)
    browser_hash: Mapped[str] = mapped_column(String(64))
    client_id: Mapped[str] = mapped_column(String(512))
    redirect_uri: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(Text)
    #: The app's own ``state``, given back unchanged.
    app_state: Mapped[str | None] = mapped_column(Text)
    avoid_linking: Mapped[bool] = mapped_column(Boolean, default=False)
    provider_name: Mapped[str | None] = mapped_column(String(64))
    #: Vault ciphertext of the provider step's secrets (PKCE verifier, msal flow).
    provider_data: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    consumed_at: Mapped[datetime | None]


class AuthCode(Base):
    __tablename__ = "auth_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[str] = mapped_column(String(512))
    redirect_uri: Mapped[str] = mapped_column(Text)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    profile_id: Mapped[int] = mapped_column(ForeignKey("profiles.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    used_at: Mapped[datetime | None]
