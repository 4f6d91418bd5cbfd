"""make bench's interleaved rounds: every measure run in turn, round after round, so the VM's drift falls on all of
them alike; medians per measure, and ratios taken within each round. A warm run's file is read into the page cache
first."""
import statistics


def median_rounds(measures, rounds=3, each=None):
    """Runs every measure `rounds` times, interleaved (a round of all of them, then the next), and returns each one's
    medians: of every number in the dict it returns (bench_json's), or of every entry of the list. `each`, a list,
    receives every measure's results round by round (for ratios taken within a round: see round_ratio)."""
    results = [[] for _ in measures]
    for _ in range(rounds):
        for i, measure in enumerate(measures):
            results[i].append(measure())
    if each is not None:
        each.extend(results)

    def median(values):
        if isinstance(values[0], dict):
            return {k: values[0][k] if k == "label" else statistics.median(v[k] for v in values) for k in values[0]}
        return [statistics.median(v[j] for v in values) for j in range(len(values[0]))]
    return [median(r) for r in results]


def round_ratio(ours, theirs):
    """The median, over interleaved rounds, of ours ÷ theirs within each round: the VM's drift from one round to the
    next (tens of percent within minutes) cancels out of it, where a ratio of two medians keeps it."""
    return statistics.median(a / b for a, b in zip(ours, theirs))


def read_into_cache(*paths):
    """Reads each of `paths` whole, so that every page of it is in the page cache: a warm run measures the program, not
    the pages an earlier section of the bench pushed out (its prefill would otherwise fault them back in)."""
    for path in paths:
        with open(path, "rb", buffering=0) as f:
            while f.read(8 << 20):
                pass
