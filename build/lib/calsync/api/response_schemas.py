"""The bodies of successful answers, for the OpenAPI document only.

Routes build their JSON by hand (it is the hot path, and Cronofy's field
names include dots); these models describe that JSON so generated clients
and ``/docs`` know it, and the fuzz test's response checks hold the server
to it. Routes declare them with ``responses={200: {"model": ...}}`` and
``response_model=None``, so nothing is validated or filtered at run time.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Open(BaseModel):
    """Clients must accept fields they do not know (Cronofy adds them over time)."""

    model_config = ConfigDict(extra="allow")


class LinkingProfile(_Open):
    provider_name: str
    profile_id: str
    profile_name: str


class TokenAnswer(_Open):
    token_type: Literal["bearer"]
    access_token: str
    expires_in: int
    refresh_token: str
    scope: str
    sub: str
    application_calendar_id: str | None = None
    linking_profile: LinkingProfile | None = None


class Empty(_Open):
    """``{}``."""


class AccountFields(_Open):
    account_id: str
    name: str
    default_tzid: str
    email: str | None = None


class AccountAnswer(_Open):
    account: AccountFields


class Profile(_Open):
    provider_name: str
    profile_id: str
    profile_name: str
    profile_connected: bool
    profile_initial_sync_required: bool


class ProfilesAnswer(_Open):
    profiles: list[Profile]


class UserinfoAnswer(_Open):
    """Also ``cronofy.type`` and ``cronofy.data`` (the profiles and their calendars)."""

    sub: str
    name: str
    email: str | None = None


class CalendarSync(_Open):
    last_sync_at: str | None = Field(description="When the calendar last synced (UTC).")
    last_error: str | None = Field(description="Why the last sync failed, if it did.")


class Calendar(_Open):
    provider_name: str
    profile_id: str
    profile_name: str
    calendar_id: str
    calendar_name: str
    calendar_readonly: bool
    calendar_deleted: bool
    calendar_primary: bool
    calendar_integrated_conferencing_available: bool
    calendar_attachments_available: bool
    permission_level: str
    calendar_color: str
    calendar_timezone: str | None = Field(description="calsync: the calendar's zone.")
    metadata: dict[str, Any] | None = Field(description="calsync: the app's own data.")
    ical_url: str = Field(description="calsync: a live iCalendar feed of the calendar.")
    sync: CalendarSync = Field(description="calsync: the calendar's sync state.")


class CalendarsAnswer(_Open):
    calendars: list[Calendar]


class CalendarAnswer(_Open):
    calendar: Calendar


class Pages(_Open):
    current: int = Field(ge=1)
    total: int = Field(ge=1, description="The pages of this walk, the same on every page.")
    next_page: str | None = Field(
        default=None, description="Present while `current < total`: the next page's URL."
    )


class Attendee(_Open):
    email: str
    display_name: str
    status: str


class EventLocation(_Open):
    description: str | None = None
    lat: str | None = None
    long: str | None = None


class Organizer(_Open):
    email: str
    display_name: str


class EventOptions(_Open):
    delete: bool
    update: bool
    change_participation_status: bool


class Event(_Open):
    calendar_id: str
    event_uid: str
    event_id: str | None = Field(default=None, description="Events this app manages only.")
    summary: str
    description: str
    start: str = Field(description="A Time, or a Date for all-day events.")
    end: str
    deleted: bool
    created: str
    updated: str
    participation_status: str
    attendees: list[Attendee]
    transparency: str
    status: str
    categories: list[str]
    recurring: bool
    event_private: bool
    options: EventOptions
    meeting_url: str | None
    location: EventLocation | None = None
    organizer: Organizer | None = None


class EventsAnswer(_Open):
    pages: Pages
    events: list[Event]


class FreeBusy(_Open):
    calendar_id: str
    start: str
    end: str
    free_busy_status: Literal["free", "busy", "tentative"]


class FreeBusyAnswer(_Open):
    pages: Pages
    free_busy: list[FreeBusy]


class BatchEntry(_Open):
    status: int = Field(description="202 when the entry was applied; else its error status.")
    data: dict[str, Any] | None = Field(default=None, description="The entry's error body.")


class BatchAnswer(_Open):
    batch: list[BatchEntry]


class ChannelFiltersOut(_Open):
    calendar_ids: list[str] | None = None
    only_managed: bool | None = None


class Channel(_Open):
    channel_id: str
    callback_url: str
    filters: ChannelFiltersOut


class ChannelStatus(_Open):
    last_success_at: str | None
    failure_count: int
    next_attempt_at: str | None = Field(description="When the next delivery is tried.")
    disabled: bool
    disabled_reason: str | None
    last_error: str | None


class ListedChannel(Channel):
    status: ChannelStatus = Field(description="calsync: the channel's delivery state.")


class ChannelAnswer(_Open):
    channel: Channel


class ChannelsAnswer(_Open):
    channels: list[ListedChannel]


def ok(
    model: type[BaseModel], status: int = 200, description: str = "Success"
) -> dict[int | str, dict[str, Any]]:
    """The success entry of a route's ``responses=``."""
    return {status: {"model": model, "description": description}}


#: A 202 with no body (a deletion that has been done).
NO_CONTENT_202: dict[int | str, dict[str, Any]] = {202: {"description": "Done.", "content": {}}}
