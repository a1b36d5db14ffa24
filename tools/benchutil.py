"""What the benchmark scripts share: the per-side summary of timed runs."""
import statistics


def summarize(sides, times, checks, count):
    """``{side name: {label, seconds, rates, best_rate, median_rate, checks}}``.

    :param times: ``{side name: [seconds per run]}``
    :param checks: ``{side name: [what each run verified]}``
    :param count: items processed per run
    """
    summary = {}
    for side in sides:
        rates = [count / t for t in times[side.name]]
        summary[side.name] = {
            'label': side.label,
            'seconds': [round(t, 4) for t in times[side.name]],
            'rates': [round(x, 1) for x in rates],
            'best_rate': round(max(rates), 1),
            'median_rate': round(statistics.median(rates), 1),
            'checks': checks[side.name][-1],
        }
    return summary
