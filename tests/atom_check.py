"""Checks of what RFC 4287 requires of an Atom feed document, stricter than
feedparser (which accepts almost anything): used by every test that reads a feed."""
import re

from lxml import etree

A = '{http://www.w3.org/2005/Atom}'
FH = '{http://purl.org/syndication/history/1.0}'
# RFC 3339 date-time (RFC 4287 3.3: upper-case T and Z).
RFC3339 = re.compile(r'^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$')
IRI = re.compile(r'^[A-Za-z][A-Za-z0-9+.-]*:\S+$')


def _one(element, name, where, problems):
    found = element.findall(A + name)
    if len(found) != 1:
        problems.append('%s has %d atom:%s (exactly one required)' % (where, len(found), name))
        return None
    return found[0]


def _common(element, where, problems):
    id_ = _one(element, 'id', where, problems)
    if id_ is not None and not IRI.match(id_.text or ''):
        problems.append('%s atom:id %r is not an IRI' % (where, id_.text))
    _one(element, 'title', where, problems)
    updated = _one(element, 'updated', where, problems)
    if updated is not None and not RFC3339.match(updated.text or ''):
        problems.append('%s atom:updated %r is not RFC 3339' % (where, updated.text))
    for author in element.findall(A + 'author'):
        if len(author.findall(A + 'name')) != 1:
            problems.append('%s has an atom:author without exactly one atom:name' % where)
    alternates = {(link.get('type'), link.get('hreflang'))
                  for link in element.findall(A + 'link') if link.get('rel', 'alternate') == 'alternate'}
    if len(alternates) != len([link for link in element.findall(A + 'link')
                               if link.get('rel', 'alternate') == 'alternate']):
        problems.append('%s has two alternate links of the same type and hreflang' % where)
    for link in element.findall(A + 'link'):
        if not link.get('href'):
            problems.append('%s has an atom:link without href' % where)


def problems(document):
    """What ``document`` (bytes) breaks of RFC 4287 (empty when nothing)."""
    found = []
    root = etree.fromstring(document)
    if root.tag != A + 'feed':
        return ['root element is %s, not atom:feed' % root.tag]
    _common(root, 'feed', found)
    feed_author = bool(root.findall(A + 'author'))
    for i, entry in enumerate(root.findall(A + 'entry')):
        where = 'entry %d' % i
        _common(entry, where, found)
        if not feed_author and not entry.findall(A + 'author'):
            found.append('%s has no atom:author and the feed has none' % where)
        content = entry.findall(A + 'content')
        alternate = [link for link in entry.findall(A + 'link')
                     if link.get('rel', 'alternate') == 'alternate']
        if not content and not alternate:
            found.append('%s has neither atom:content nor an alternate link' % where)
        for c in content:
            if c.get('src') is not None:
                if c.text or len(c):
                    found.append('%s atom:content with src is not empty' % where)
                if not entry.findall(A + 'summary'):
                    found.append('%s has atom:content src but no atom:summary' % where)
            elif c.get('type', 'text') not in ('text', 'html', 'xhtml') \
                    and not c.get('type', '').startswith('text/'):
                found.append('%s carries %s inline (not text)' % (where, c.get('type')))
    return found


def links(document):
    """``{rel: [href, ...]}`` of the feed's own links."""
    out = {}
    for link in etree.fromstring(document).findall(A + 'link'):
        out.setdefault(link.get('rel', 'alternate'), []).append(link.get('href'))
    return out


def is_archive(document):
    return etree.fromstring(document).find(FH + 'archive') is not None


def entry_ids(document):
    return [e.findtext(A + 'id') for e in etree.fromstring(document).findall(A + 'entry')]


def entry_titles(document):
    return [e.findtext(A + 'title') for e in etree.fromstring(document).findall(A + 'entry')]
