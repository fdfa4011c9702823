"""A run's work in groups: workspaces packed into tasks, and what a task reports back."""

from __future__ import annotations

import pandas as pd
import pytest

from konektor_capi.groups import Group, GroupResult, pack_workspaces
from konektor_capi.outcomes import FAILED, Outcomes

pytestmark = pytest.mark.unit


def test_pack_workspaces_keeps_each_whole_and_the_groups_even():
    pending = {1: 100, 2: 90, 3: 50, 4: 40, 5: 10}
    groups = pack_workspaces(pending, max_groups=2)
    assert sorted(w for g in groups for w in g.workspace_ids) == [1, 2, 3, 4, 5]
    assert sorted(g.pending for g in groups) == [140, 150]
    assert [g.label for g in pack_workspaces({7: 1}, 16)] == ["workspace 7"]
    assert len(pack_workspaces({i: 1 for i in range(100)}, 16)) == 16
    assert pack_workspaces({}, 16) == []


def test_a_group_travels_as_json_and_back():
    group = Group((3, 1, 2), 40)
    assert Group.from_dict(group.to_dict()) == group
    assert Group((1, 2, 3, 4, 5), 9).label == "workspaces 1, 2, 3 +2 more"


def test_a_group_result_retries_only_when_a_failure_heals_by_waiting():
    events = pd.DataFrame({"pixel_id": ["111"], "event_name": ["Lead"]})
    transient, refused = GroupResult(Group((1,), 1)), GroupResult(Group((1,), 1))
    transient.counts.add(Outcomes(events, FAILED, "meta error 2: Service temporarily unavailable", "r"))
    refused.counts.add(Outcomes(events, FAILED, "meta error 190: Invalid OAuth access token", "r"))
    assert transient.failed == refused.failed == 1
    assert transient.heals_by_waiting and not refused.heals_by_waiting
    stored = transient.to_dict()["outcomes"]
    assert stored == [{"pixel_id": "111", "event_name": "Lead", "status": FAILED, "n": 1}]
