"""How every answer shows values: seconds, exception names, time windows, keys."""
import datetime

from nvs_notif import faults
from nvs_notif.timeutil import parse_iso


def seconds(value):
    """Seconds as shown: rounded to milliseconds (None stays None)."""
    return round(value, 3) if value is not None else None


def in_window(when, since, until):
    """Whether ``when`` is inside ``since``..``until`` (inclusive, either None
    for open); a missing ``when`` is inside only an unbounded window."""
    if when is None:
        return since is None and until is None
    return (since is None or when >= since) and (until is None or when <= until)


def exception(fault):
    """A fault as answers group and show it: its exception's name, else its
    masked message (:func:`nvs_notif.faults.fault_name`), else ``-``."""
    return faults.fault_name(fault) or '-'


#: Before and after any stored time: where a missing one sorts.
MIN = datetime.datetime.min.replace(tzinfo=datetime.timezone.utc)
MAX = datetime.datetime.max.replace(tzinfo=datetime.timezone.utc)


def doc_time(doc):
    """A notification document's time (aware datetime), or None."""
    return parse_iso(doc.get('timestamp'))


def is_error(doc):
    """Whether a notification document is an error notification (priority error or critical)."""
    return doc.get('priority') in faults.ERROR_PRIORITIES


def key(value):
    """A grouping key as rows show it: ``-`` when missing or empty."""
    return value or '-'
