"""Schedules: which global steps get a frame. Deterministic, no training needed."""

import numpy as np
import pytest

from tb_fitviz import schedules


def picked(schedule, last=200, **kwargs):
    return [step for step in range(1, last + 1) if schedule(step, {}, **kwargs)]


def test_every_n_and_raw_forms():
    assert picked(schedules.as_schedule(25)) == [25, 50, 75, 100, 125, 150, 175, 200]
    mask = [True, False, False, True] + [False] * 5 + [1 == 1]
    assert picked(schedules.as_schedule(mask)) == [1, 4, 10]
    assert picked(schedules.as_schedule(np.array([0, 1, 1]))) == [2, 3]
    assert picked(schedules.as_schedule(lambda step, logs: step in (3, 7))) == [3, 7]
    assert schedules.as_schedule(None) is None
    log = schedules.LogSpaced(10)
    assert schedules.as_schedule(log) is log


def test_log_spaced_is_dense_early_sparse_late_within_budget():
    for total, budget in ((50, 300), (177, 300), (4425, 300), (100_000, 200), (1000, 2)):
        steps = schedules.planned_log_steps(total, budget)
        assert len(steps) <= budget and steps[0] == 1 and steps[-1] == total
        assert np.all(np.diff(steps) > 0)
        if total <= budget:
            assert len(steps) == total
        else:
            assert len(steps) >= 0.9 * budget  # the budget is used, not wasted
            gaps = np.diff(steps)
            if budget > 2:
                assert gaps[0] == 1 and gaps[-1] > gaps[len(gaps) // 2] >= gaps[0]
    schedule = schedules.LogSpaced(8, total_steps=100)
    assert picked(schedule, 100) == schedules.planned_log_steps(100, 8).tolist()


def test_log_spaced_takes_the_planned_length_at_start_and_goes_on_past_it():
    schedule = schedules.LogSpaced(20)
    schedule.start(1000)
    plan = picked(schedule, 1000)
    assert len(plan) <= 20 and plan[-1] == 1000
    later = [s for s in range(1001, 20_000) if schedule(s)]
    ratios = np.array(later[1:]) / np.array(later[:-1])
    assert len(later) >= 3 and np.allclose(ratios, ratios[0], rtol=0.01)


def test_on_change_compares_with_the_last_recorded_frame():
    schedule = schedules.OnChange(tolerance=0.1, relative=True)
    schedule.set_scale(np.array([0.0, 2.0]))  # y range 2: threshold 0.2
    assert schedule.needs_predictions
    base = np.zeros(5)
    assert schedule(1, predictions=base)  # nothing recorded yet
    schedule.recorded(1, base)
    assert not schedule(2, predictions=base + 0.19)
    assert schedule(3, predictions=base + 0.21)
    drift = base.copy()
    drift[2] = np.nan
    assert schedule(4, predictions=drift)  # a prediction turned NaN
    schedule.recorded(4, drift)
    assert not schedule(5, predictions=drift)
    absolute = schedules.OnChange(tolerance=0.5, relative=False)
    absolute.recorded(1, base)
    assert not absolute(2, predictions=base + 0.4) and absolute(3, predictions=base + 0.6)


def test_descriptions():
    assert schedules.EveryN(3).describe() == "every 3"
    assert schedules.LogSpaced(300).describe() == "log-spaced, budget 300"
    assert "on change" in schedules.OnChange(0.02).describe()


@pytest.mark.parametrize("value", [0, -3, 1.5, "3", True, [1, 2], object()])
def test_bad_every_values(value):
    with pytest.raises((TypeError, ValueError), match="every"):
        schedules.as_schedule(value)
