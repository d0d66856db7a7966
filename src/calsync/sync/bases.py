"""The base of a local change: the provider's version it was made on.

Servers hand out new etags for versions nobody edited, so "the etag moved" is
not "somebody edited it". The store keeps, per event, the last version known
to be on the provider (`Event.base_fingerprint`); a pending local change that
meets a listed version still equal to that base was made on top of it, and
goes ahead (`calsync.sync.planner`), instead of being reverted as a conflict.

Which fingerprint: it depends on how the base became known.

* From a listing (a pull stored it, or the planner adopted it): the content's
  full `content_fingerprint`, exactly as the provider lists it. A provider
  lists one version the same way each time, so this is exact: any change to
  any field, attendees and colour included, still counts as an edit.
* From a confirmed push: the provider holds what we sent, but in its own form
  (Google sets the organizer, servers normalise), which we only see at the
  next pull. So the base is the `round_trip_key` of the content sent, tagged
  with `SENT_PREFIX`, and compared by round-trip key: comparing full
  fingerprints would call our own version, normalised, somebody's edit.
  It is blind to a concurrent edit of a field outside `round_trip_view`
  alone; such an edit is then overwritten by the local version rather than
  settled by the conflict policy. The next pull replaces it with an exact base.

None: unknown (rows written before the column existed, or never on the
provider): the listed version is then treated as before, a conflict when its
etag moved and the contents differ.
"""

from __future__ import annotations

from calsync.model import EventContent, content_fingerprint, round_trip_key

#: Marks a base recorded from the content we sent (see the module doc).
SENT_PREFIX = "sent:"


def listed(content: EventContent) -> str:
    """The base of a version the provider listed (what the store writes on a pull)."""
    return content_fingerprint(content)


def sent(content: EventContent) -> str:
    """The base of a version we pushed and the provider confirmed."""
    return SENT_PREFIX + round_trip_key(content)


def unchanged_since(base: str | None, content: EventContent) -> bool:
    """Whether a listed version's ``content`` is the ``base`` (False when unknown)."""
    if base is None:
        return False
    if base.startswith(SENT_PREFIX):
        return base[len(SENT_PREFIX) :] == round_trip_key(content)
    return base == content_fingerprint(content)
