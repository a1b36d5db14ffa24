"""``nvs-notif replay``: feed files or a simulated cloud through the nvs endpoint."""
import time

from cliff import show

from nvs_notif.answers import stuck as stuck_answer
from nvs_notif.cli import common
from nvs_notif import timeutil

# nvs_notif.simulate, nvs_notif.credentials (oslo.config) and nvs_notif.replay
# (ceilometer, oslo.messaging) are imported by what needs them: "nvs-notif
# --help" imports every command's module, and they take from a sixth of a
# second to seconds.


class Replay(common.Command, show.ShowOne):
    """Replay JSON-lines notification files (or --simulate N) into the store."""

    def get_parser(self, prog_name):
        from nvs_notif import simulate
        parser = super().get_parser(prog_name)
        parser.add_argument('files', nargs='*', metavar='FILE',
                            help='JSON-lines files: wire envelopes or notification dicts')
        parser.add_argument('--simulate', type=common.positive_int, metavar='N',
                            help='replay N notifications of a seeded simulated cloud '
                                 '(instead of files)')
        parser.add_argument('--seed', type=int, default=0, help='simulation seed')
        when = parser.add_mutually_exclusive_group()
        when.add_argument('--end', metavar='TIME', type=common.time_arg,
                          help='with --simulate: the simulated cloud ends at this ISO time '
                               'or age (default: now, so the answers of every command '
                               'are about the last minutes; the ids stay the same)')
        when.add_argument('--start', metavar='TIME', type=common.time_arg,
                          help='with --simulate: the simulated cloud starts at this ISO '
                               'time instead (e.g. %s)' % timeutil.iso(simulate.DEFAULT_START))
        parser.add_argument('--batch-size', type=common.positive_int, default=500,
                            help='notifications per store write (default %(default)s)')
        return common.require_one_of(parser, ('files', 'simulate'),
                                     'give FILE arguments or --simulate N')

    def take_action(self, args):
        from nvs_notif import credentials
        from nvs_notif import replay as replay_mod
        if args.simulate:
            messages = (s.to_message() for s in _simulated(args))
        else:
            messages = replay_mod.read_jsonl(args.files)
        endpoint = self.app.local_endpoint()
        started = time.monotonic()
        progress = _Progress(self.app.stderr, args.simulate) if self.app.stderr.isatty() else None
        stats = replay_mod.replay(messages, endpoint, args.batch_size, progress)
        if progress:
            progress.done()
        elapsed = time.monotonic() - started
        store = replay_mod.local_store(endpoint)
        policy = stuck_answer.policy_of(endpoint.conf)
        # Replayed data has its own clock: "now" is the newest thing in it.
        summary = store.span_summary(store.latest_time() or timeutil.utcnow(), policy)
        failures = ['%s %s: %d' % (f.operation, f.exception or '?', f.count)
                    for f in store.top_failures()]
        rows = [('store', credentials.public(self.app.store_url)),
                ('notifications', stats['notifications']),
                ('rejected', stats['rejects']),
                ('duplicates', stats['duplicates']),
                ('seconds', round(elapsed, 2)),
                ('per second', int((stats['notifications'] + stats['rejects']) / elapsed)
                 if elapsed else 0)]
        rows += [('spans ' + name if name != 'spans' else 'spans', n)
                 for name, n in summary.labelled()]
        rows.append(('top failures', '\n'.join(failures) or '-'))
        return tuple(zip(*rows))


class _Progress:
    """A one-line counter on a terminal (replays are quiet when piped)."""

    def __init__(self, stream, total=None):
        self.stream = stream
        self.total = total
        self.count = 0
        self.started = time.monotonic()

    def __call__(self, n):
        self.count += n
        rate = self.count / max(time.monotonic() - self.started, 1e-9)
        of = ' of %d' % self.total if self.total else ''
        self.stream.write('\rreplayed %d%s notifications (%.0f/s)' % (self.count, of, rate))
        self.stream.flush()

    def done(self):
        self.stream.write('\n')
        self.stream.flush()


def _simulated(args):
    """The simulated cloud of ``--simulate``/``--seed``, starting at ``--start`` or
    ending at ``--end`` (default: now, to the second)."""
    from nvs_notif import simulate
    current = timeutil.utcnow()
    if args.start is not None:
        return simulate.simulate(args.simulate, seed=args.seed, start=args.start.at(current))
    end = args.end.at(current) if args.end is not None else current.replace(microsecond=0)
    return simulate.ending_at(args.simulate, end, seed=args.seed)
