"""RFC 5005 archived feeds: pages whose URL and content never change.

The entries of a topic are ordered by *ingest*: the store gives each entry a
marker when it stores it, larger for later ingest, so nothing can later land
between two settled markers (a marker is *settled* once every write that
could still come in under it has landed: the caller's ``settled`` predicate).

Pages are cut at *boundary* entries, one in ``page_size`` on average, picked
by a hash of the entry's id: where a page starts depends on the entries
alone, never on how many came after them or on when the page is asked for.
The archive page named by marker ``M`` holds the entry at ``M`` and the older
ones down to the next older boundary (excluded), at most ``max_entries``; its
``prev-archive`` is the page named by the marker where it stopped.  Every
chain of ``prev-archive`` links therefore passes through the same boundary
pages, so a client walking back stops at the first page it already has
(RFC 5005 4.2), and a page of settled markers is the same forever: expired
entries make old pages shorter or absent, never shift them (as Yagi's page
numbers did).

Functions here are pure: the caller reads ``(marker, entry)`` items from the
store, newest first, and renders the :class:`Page` with :mod:`.atom`.
"""
import dataclasses
import hashlib

#: Entries per archive page on average, and the most one page holds.
PAGE_SIZE = 100
MAX_ENTRIES = 400


@dataclasses.dataclass(frozen=True)
class Item:
    """An entry with the ingest marker the store gave it."""
    marker: str
    entry: object       # nvs_notif.feeds.entries.Entry


@dataclasses.dataclass(frozen=True)
class Page:
    """The entries of one document, newest first, and the marker of the next
    older archive page (None when there is none)."""
    items: tuple
    prev_marker: str | None


def is_boundary(entry_id, page_size=PAGE_SIZE):
    """Whether an entry starts an archive page: one entry in ``page_size``,
    by a hash of its id (the same in every process and release)."""
    digest = hashlib.sha256(entry_id.encode('utf-8', 'surrogatepass')).digest()
    return int.from_bytes(digest[:8], 'big') % page_size == 0


def archive_page(items, page_size=PAGE_SIZE, max_entries=MAX_ENTRIES, marker=None):
    """The archive page named by ``marker`` (default: the first item's).

    :param items: the topic's items at and before the page's marker, newest
        first; read ``max_entries + 1`` of them (one more tells the next
        page's marker)
    :param marker: the page's marker; when its entry is gone (expired), the
        page holds what is left of it: the older items down to the next
        boundary (none when the first is one)
    :returns: a :class:`Page` (empty when ``items`` is)
    """
    page = []
    for item in items:
        if marker is None:
            marker = item.marker
        if len(page) >= max_entries or (
                item.marker != marker and is_boundary(item.entry.id, page_size)):
            return Page(tuple(page), item.marker)
        page.append(item)
    return Page(tuple(page), None)


def current_page(items, settled, page_size=PAGE_SIZE, max_entries=MAX_ENTRIES):
    """The subscription document: the newest ``max_entries`` items, and as
    ``prev_marker`` the newest settled boundary (it may be among the items
    shown: entries may be in both, RFC 5005 allows it).  When none is among
    the newest ``max_entries``, the first settled item after them: its page
    is stable too, and its chain meets the boundary pages.

    :param items: the topic's newest items, newest first; read more than
        ``max_entries`` (e.g. ``max_entries + 4 * page_size``) so that a
        settled marker is among them at high rates
    :param settled: ``settled(marker)``: whether no write can still land
        below ``marker``
    """
    shown, prev = [], None
    for item in items:
        shown_all = len(shown) >= max_entries
        if prev is None and settled(item.marker) and (
                shown_all or is_boundary(item.entry.id, page_size)):
            prev = item.marker
        if shown_all:
            if prev is not None:
                break
        else:
            shown.append(item)
    return Page(tuple(shown), prev)
