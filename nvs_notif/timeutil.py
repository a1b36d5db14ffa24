"""Times as nvs-notif reads and writes them, in one place: the current time, UTC ISO
8601 text, and what operators type (ISO times, ages, durations)."""
import datetime
import math

_UNITS = {'s': 1, 'm': 60, 'h': 3600, 'd': 86400, 'w': 604800}


def utcnow():
    """The current time, aware, in UTC."""
    return datetime.datetime.now(datetime.timezone.utc)


def iso(when):
    """A time as stored and as operators read it: UTC ISO 8601, or None."""
    return when.astimezone(datetime.timezone.utc).isoformat() if when is not None else None


def parse_iso(value):
    """The aware datetime of :func:`iso`'s text, or None for an empty value."""
    return datetime.datetime.fromisoformat(value) if value else None


def parse_time(value, now):
    """An aware datetime from an ISO time or an age (``90s``, ``15m``, ``2h``, ``7d``, ``1w``).

    :param value: the text an operator typed; naive ISO times are taken as UTC
    :param now: aware datetime relative ages count back from
    :returns: aware datetime, or None for an empty value
    :raises ValueError: for anything else, including negative, infinite or
        NaN ages and ages reaching back before year 1
    """
    if not value:
        return None
    text = value.strip()
    unit = _UNITS.get(text[-1:].lower())
    if unit is not None:
        try:
            number = float(text[:-1])
        except ValueError:
            number = None
        if number is not None:
            seconds = _finite_seconds(number * unit, value, 'an age')
            try:
                return now - datetime.timedelta(seconds=seconds)
            except OverflowError:
                raise ValueError('too large for an age: %r' % value) from None
    when = datetime.datetime.fromisoformat(text.replace('Z', '+00:00'))
    return when if when.tzinfo else when.replace(tzinfo=datetime.timezone.utc)


def _finite_seconds(seconds, value, what):
    # Seconds a timedelta can hold: not negative, infinite, NaN or too large.
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError('not %s: %r' % (what, value))
    try:
        datetime.timedelta(seconds=seconds)
    except OverflowError:
        raise ValueError('too large for %s: %r' % (what, value)) from None
    return seconds


def parse_duration(value):
    """Seconds from a duration an operator typed: ``90``, ``90s``, ``10m``, ``2h``, ``1d``.

    :returns: float seconds (>= 0, finite, as long as a timedelta can be)
    :raises ValueError: for anything else: negative, infinite, NaN or too
        large durations too
    """
    text = (value or '').strip()
    unit = _UNITS.get(text[-1:].lower(), None)
    number = text[:-1] if unit is not None else text
    return _finite_seconds(float(number) * (unit or 1), value, 'a duration')
