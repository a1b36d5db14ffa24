"""New entries to the hub: which subscribed topics hold them, as one Atom
document per topic (what WebSub distributes: the topic's new entries).

Pure :func:`documents` and the call of the hub (:func:`publish`); reading
what the store ingested since the last round (the store's tail) is the
caller's.  Keystone's notifications among the new ones that take access
away end the subscriptions they concern first (:mod:`.revocations`).
"""
from nvs_notif.feeds import atom
from nvs_notif.feeds import entries as entries_mod
from nvs_notif.feeds import revocations
from nvs_notif.feeds import topics as topics_mod


def documents(topics, base, hub_url, notifications=(), spans=()):
    """``(topic URL, Atom document, Link header)`` for each topic that holds
    any of the new entries.

    :param topics: :class:`~nvs_notif.feeds.topics.Topic` objects
    :param base: the API's base URL (topic URLs are under it)
    :param hub_url: the hub's URL, linked from every document
    :param notifications: new notification documents (as the stores return them)
    :param spans: spans that just finished (open ones are skipped)
    """
    notifications, spans = list(notifications), [s for s in spans if s.finished]
    for topic in topics:
        held = [entries_mod.notification_entry(d) for d in notifications
                if topic.matches_notification(d)]
        held += [entries_mod.span_entry(s) for s in spans if topic.matches_span(s)]
        if not held:
            continue
        held.sort(key=lambda e: (e.updated, e.id), reverse=True)
        feed = atom.Feed(topic.url(base), topic.title, hub_url)
        yield feed.topic, atom.document(feed, held), atom.link_header(feed)


def publish(hub, base, hub_url, notifications=(), spans=(), project_enabled=None):
    """Queue the new entries for every subscriber of a topic holding them;
    how many deliveries that makes.  Topics the hub knows but this API does
    not serve (any more) are skipped.

    Keystone's notifications among them that take access away end the
    subscriptions they concern before anything is queued
    (:func:`.revocations.revoke`, with ``project_enabled``).
    """
    notifications = list(notifications)
    for doc in notifications:
        revocation = revocations.revocation(doc)
        if revocation is not None:
            revocations.revoke(hub, base, revocation, project_enabled)
    topics = []
    for url in hub.store.topics(hub.clock()):
        try:
            topics.append(topics_mod.parse(url, base))
        except topics_mod.InvalidTopic:
            continue
    return hub.publish_all((url, body, atom.CONTENT_TYPE, link) for url, body, link
                           in documents(topics, base, hub_url, notifications, spans))
