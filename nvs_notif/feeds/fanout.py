"""New entries to the hub: which subscribed topics hold them, as one Atom
document per topic (what WebSub distributes: the topic's new entries).

Pure :func:`documents` and the call of the hub (:func:`publish`); what reads
the store's tail is :mod:`nvs_notif.feeds.tail`.  Keystone's notifications
among the new ones that take access away end the subscriptions they concern
first (:func:`revoke`, :mod:`.revocations`).
"""
from nvs_notif.feeds import atom
from nvs_notif.feeds import entries as entries_mod
from nvs_notif.feeds import revocations
from nvs_notif.feeds import topics as topics_mod


def documents(topic_urls, notifications=(), spans=()):
    """``(topic URL, Atom document, Link header)`` for each topic that holds
    any of the new entries.  Topic URLs that are not (any more) topics of
    this API are skipped.

    :param topic_urls: topic URLs as the hub keeps them (canonical, under
        the base of the API that accepted them, which links its hub)
    :param notifications: new notification documents (as the stores return them)
    :param spans: spans that just finished (open ones are skipped)
    """
    notifications, spans = list(notifications), [s for s in spans if s.finished]
    # An entry is made and rendered once, however many topics hold it (a
    # project's topic and the admins' of every project, at least): making it
    # is most of a round's work.
    made, rendered = {}, {}

    def entry(kind, i, make, record):
        if (kind, i) not in made:
            made[kind, i] = make(record)
        return made[kind, i]

    for url, base, topic in _topics(topic_urls):
        held = [entry('n', i, entries_mod.notification_entry, d)
                for i, d in enumerate(notifications) if topic.matches_notification(d)]
        held += [entry('s', i, entries_mod.span_entry, s)
                 for i, s in enumerate(spans) if topic.matches_span(s)]
        if not held:
            continue
        held.sort(key=lambda e: (e.updated, e.id), reverse=True)
        feed = atom.Feed(url, topic.title, topics_mod.hub_url(base))
        yield url, atom.document(feed, held, rendered=rendered), atom.link_header(feed)


def _topics(topic_urls):
    """``(url, base, topic)`` of each URL that is a topic of this API; the
    others (not, or not any more, topics) are skipped."""
    for url in topic_urls:
        try:
            base, topic = topics_mod.split(url)
        except topics_mod.InvalidTopic:
            continue
        yield url, base, topic


def holds_spans(topic_urls):
    """Whether any of these topics is a spans topic (the tail reads the
    finished spans only then)."""
    return any(topic.kind == 'spans' for _, _, topic in _topics(topic_urls))


def contents(topic_urls, notifications=(), spans=()):
    """What the hub queues (``HubStore.enqueue``): ``(topic, body,
    content type, Link)`` of :func:`documents`."""
    return [(url, body, atom.CONTENT_TYPE, link)
            for url, body, link in documents(topic_urls, notifications, spans)]


def revoke(hub, notifications, project_enabled=None):
    """End the subscriptions Keystone's notifications among ``notifications``
    take access from (:func:`.revocations.revoke`, with ``project_enabled``);
    how many ended."""
    return sum(revocations.revoke(hub, r, project_enabled)
               for r in map(revocations.revocation, notifications) if r is not None)


def publish(hub, notifications=(), spans=(), project_enabled=None):
    """Queue the new entries for every subscriber of a topic holding them,
    after :func:`revoke`; how many deliveries that makes."""
    notifications = list(notifications)
    revoke(hub, notifications, project_enabled)
    return hub.publish_all(contents(hub.store.topics(hub.clock()), notifications, spans))
