"""podlife: the pod lifecycle claims, checked on a real cluster, against reference apps or your own.

What a user's own pytest file needs, in one import (the fixtures ``scene``, ``jig``,
``evidence``, ``namespace``, ``k8s`` and ``podlife_cluster`` come with the plugin)::

    from podlife import user_app, chaos, assert_no_request_lost, check_exposed

See ``fixtures/workloads/test_my_app.py`` for a whole scenario written this way.
"""

from podlife.chaos import apps as chaos
from podlife.chaos.apps import Hit
from podlife.errors import HarnessError, NotExercised, PodlifeError
from podlife.observe.window import Window
from podlife.report.summary import Evidence
from podlife.scene import Scene
from podlife.verdicts.traffic import (
    assert_no_request_lost,
    assert_success_ratio,
    check_exposed,
    check_hit_traffic,
    data_path_lags,
    endpoint_removal_lags,
)
from podlife.verdicts.workload import PreStop, shutdown_times
from podlife.waiting import wait_for
from podlife.workloads.jig import App, AppJig, MakeJig
from podlife.workloads.user import UserApp, user_app

__all__ = [
    "App", "AppJig", "Evidence", "HarnessError", "Hit", "MakeJig", "NotExercised", "PodlifeError", "PreStop", "Scene",
    "UserApp", "Window", "assert_no_request_lost", "assert_success_ratio", "chaos", "check_exposed", "check_hit_traffic",
    "data_path_lags", "endpoint_removal_lags", "shutdown_times", "user_app", "wait_for",
]
