"""The noop engine: fixed answers for every item, every look."""

from conftest import ARMS, METRICS, run_engine


def test_noop_answers_every_item_with_fixed_numbers(data):
    lines, by_key, done = run_engine("noop", data, ["noop", "noop_sequential"], looks=5)
    assert done == {"batch": 7, "done": True, "items": 3 * len(METRICS) * len(ARMS) * (1 + 5)}
    for rep in data:
        for m in METRICS:
            for arm in ARMS:
                keys = [(rep, m["name"], arm, "noop", None)] + [(rep, m["name"], arm, "noop_sequential", k) for k in range(1, 6)]
                for k in keys:
                    l = by_key[k]
                    assert (l["estimate"], l["ci_low"], l["ci_high"], l["p_value"], l["reject"]) == (0.0, -1.0, 1.0, 1.0, False)
