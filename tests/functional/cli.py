"""Run ``nvs-notif`` commands in-process, as the functional tests read the stores."""
import io
import json

from nvs_notif.cli.main import NvsNotifApp


def run_text(url, *argv):
    """``nvs-notif --store url argv`` in-process; (exit code, stdout text)."""
    app = NvsNotifApp()
    app.stdout = io.StringIO()
    code = app.run(['--store', url] + list(argv))
    return code, app.stdout.getvalue()


def run(url, *argv):
    """Run ``nvs-notif --store url argv -f json`` in-process; the parsed output."""
    code, out = run_text(url, *argv, '-f', 'json')
    assert code == 0, argv
    return json.loads(out)


def both(stores, *argv):
    """The command's output, asserted identical on both stores.

    :param stores: ``{'sqlite': url, 'es': url}`` holding the same data
    """
    from_sqlite = run(stores['sqlite'], *argv)
    from_es = run(stores['es'], *argv)
    assert from_sqlite == from_es, argv
    return from_sqlite
