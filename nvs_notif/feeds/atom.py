"""Atom 1.0 documents (RFC 4287) of feed entries, with RFC 5005 archive links.

XML is built with lxml (never by string templates) and written
deterministically: the same entries and links give the same bytes, which is
what makes an archive page byte-identical on every fetch.  Text that XML 1.0
cannot carry (control characters, lone surrogates, U+FFFE/U+FFFF) is replaced
by U+FFFD before it reaches lxml.
"""
import copy
import dataclasses
import datetime
import re
import uuid

from lxml import etree

ATOM_NS = 'http://www.w3.org/2005/Atom'
#: RFC 5005's namespace, for ``<fh:archive/>``.
HISTORY_NS = 'http://purl.org/syndication/history/1.0'
CONTENT_TYPE = 'application/atom+xml'
JSON_TYPE = 'application/json'
#: ``<category scheme>`` of an entry's field (``urn:nvs-notif:service``).
CATEGORY_SCHEME = 'urn:nvs-notif:'

#: Namespace of the name-based UUID of a feed: its id is a function of the topic URL.
FEED_NAMESPACE = uuid.UUID('3b8f2d61-9c4e-4a7b-8e1f-5d2c6a9b0e03')

_NOT_XML = re.compile('[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]')
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


@dataclasses.dataclass(frozen=True)
class Feed:
    """What a feed document says about itself.

    :ivar topic: the topic URL: the ``self`` link of the subscription
        document, the ``current`` link of every archive page, and what hub
        subscribers name in ``hub.topic``
    :ivar hub: the WebSub hub URL (``<link rel="hub">``), or None
    """
    topic: str
    title: str
    hub: str | None = None
    author: str = 'nvs-notif'

    @property
    def id(self):
        return uuid.uuid5(FEED_NAMESPACE, self.topic).urn


def xml_text(value):
    """``value`` as text XML 1.0 can carry."""
    return _NOT_XML.sub('\ufffd', '' if value is None else str(value))


def rfc3339(when):
    """An aware datetime as RFC 3339 text in UTC (``2026-12-05T19:55:43.5Z``)."""
    text = when.astimezone(datetime.timezone.utc).isoformat()
    return text[:-len('+00:00')] + 'Z'


def _sub(parent, name, text=None, **attrs):
    element = etree.SubElement(parent, '{%s}%s' % (ATOM_NS, name),
                               {k: xml_text(v) for k, v in attrs.items()})
    if text is not None:
        element.text = xml_text(text)
    return element


def _link(parent, rel, href, type_=None):
    attrs = {'rel': rel, 'href': href}
    if type_:
        attrs['type'] = type_
    _sub(parent, 'link', **attrs)


def _entry(parent, entry):
    e = _sub(parent, 'entry')
    _sub(e, 'id', entry.id)
    _sub(e, 'title', entry.title, type='text')
    _sub(e, 'updated', rfc3339(entry.updated))
    if entry.published is not None:
        _sub(e, 'published', rfc3339(entry.published))
    _sub(_sub(e, 'author'), 'name', entry.author)
    for field, term in entry.categories:
        _sub(e, 'category', term=term, scheme=CATEGORY_SCHEME + field)
    _sub(e, 'summary', entry.summary, type='text')
    if entry.content_src:
        # RFC 4287 4.1.3.2: with src the element is empty and the summary
        # (given above) is required; type says what the link returns.
        _link(e, 'alternate', entry.content_src, JSON_TYPE)
        _sub(e, 'content', type=JSON_TYPE, src=entry.content_src)
    else:
        _sub(e, 'content', entry.text, type='text')
    return e


def _append_entry(parent, entry, rendered):
    if rendered is None:
        _entry(parent, entry)
    elif entry in rendered:
        parent.append(copy.deepcopy(rendered[entry]))
    else:
        rendered[entry] = _entry(parent, entry)


def document(feed, entries, self_url=None, prev_archive=None, archive=False,
             empty_updated=_EPOCH, rendered=None):
    """An Atom feed document (bytes, UTF-8, with the XML declaration).

    :param feed: the :class:`Feed`
    :param entries: :class:`~nvs_notif.feeds.entries.Entry` objects, in the
        order to write them (newest first)
    :param self_url: the document's own URL; the topic URL when None (the
        subscription document)
    :param prev_archive: URL of the next older archive page (RFC 5005), or None
    :param archive: whether this is an archive page: ``<fh:archive/>`` and a
        ``current`` link to the topic
    :param empty_updated: ``<updated>`` of a document without entries (with
        entries, the newest entry's ``updated``: never the clock, so a page
        is the same bytes every time)
    :param rendered: a dict the documents of one set of entries share: an
        entry in several documents (its project's topic and the admins', at
        least) is built once and copied into the others (about eight times faster)
    """
    entries = list(entries)
    root = etree.Element('{%s}feed' % ATOM_NS,
                         nsmap={None: ATOM_NS, 'fh': HISTORY_NS} if archive else {None: ATOM_NS})
    _sub(root, 'id', feed.id)
    _sub(root, 'title', feed.title, type='text')
    _sub(root, 'updated', rfc3339(max((e.updated for e in entries), default=empty_updated)))
    _sub(_sub(root, 'author'), 'name', feed.author)
    _link(root, 'self', self_url or feed.topic, CONTENT_TYPE)
    if feed.hub:
        _link(root, 'hub', feed.hub)
    if archive:
        etree.SubElement(root, '{%s}archive' % HISTORY_NS)
        _link(root, 'current', feed.topic, CONTENT_TYPE)
    if prev_archive:
        _link(root, 'prev-archive', prev_archive, CONTENT_TYPE)
    for entry in entries:
        _append_entry(root, entry, rendered)
    return etree.tostring(root, xml_declaration=True, encoding='UTF-8')


def link_header(feed, self_url=None):
    """The HTTP ``Link`` header value WebSub discovery and distribution use:
    the hub and the ``self`` URL (the topic for the subscription document)."""
    links = ['<%s>; rel="self"' % (self_url or feed.topic)]
    if feed.hub:
        links.insert(0, '<%s>; rel="hub"' % feed.hub)
    return ', '.join(links)
