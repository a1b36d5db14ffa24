"""Answers as JSON objects: a named row (:mod:`nvs_notif.answers`) by its field names."""


def objects(rows):
    """Named rows as a list of dicts."""
    return [row._asdict() for row in rows]


def trace_objects(rows):
    """Trace rows as dicts: the indented ``step`` becomes ``operation`` and its ``depth``."""
    found = objects(rows)
    for item in found:
        step = item.pop('step')
        item['operation'] = step.lstrip(' ')
        item['depth'] = (len(step) - len(item['operation'])) // 2
    return found
