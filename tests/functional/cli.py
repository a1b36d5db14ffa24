"""Run ``nvs-notif`` commands in-process, as the functional tests read the stores."""
import io
import json

from nvs_notif.cli.main import NvsNotifApp


def run_text_err(url, *argv):
    """``nvs-notif --store url argv`` in-process; (exit code, stdout text, stderr text)."""
    app = NvsNotifApp()
    app.stdout, app.stderr = io.StringIO(), io.StringIO()
    code = app.run(['--store', url] + list(argv))
    return code, app.stdout.getvalue(), app.stderr.getvalue()


def run_text(url, *argv):
    """``nvs-notif --store url argv`` in-process; (exit code, stdout text)."""
    return run_text_err(url, *argv)[:2]


def run(url, *argv):
    """Run ``nvs-notif --store url argv -f json`` in-process; the parsed output."""
    code, out = run_text(url, *argv, '-f', 'json')
    assert code == 0, argv
    return json.loads(out)


def on_every_store(stores, *argv):
    """The command's output, asserted identical on every store.

    :param stores: ``{name: url}`` holding the same data (SQLite and the search engines)
    """
    outputs = {name: run(url, *argv) for name, url in stores.items()}
    first = next(iter(outputs.values()))
    assert all(out == first for out in outputs.values()), (argv, outputs)
    return first
