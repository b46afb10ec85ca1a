"""podlife: the pod lifecycle claims, checked on a real cluster, against reference apps or your own.

What a user's own pytest file needs, in one import (the fixtures ``scene``, ``jig``,
``evidence``, ``namespace``, ``k8s`` and ``podlife_cluster`` come with the plugin)::

    from podlife import user_app, wait_for, assert_nothing_lost, check_hit_traffic

See ``fixtures/workloads/test_my_app.py`` for a whole scenario written this way.
"""

from podlife.errors import HarnessError, NotExercised, PodlifeError
from podlife.observe.window import Window, observe
from podlife.report.summary import Evidence
from podlife.scene import Scene
from podlife.verdicts.workload import (
    PreStop,
    assert_keeps_serving,
    assert_nothing_lost,
    check_hit_traffic,
    endpoint_removal_lags,
    shutdown_times,
)
from podlife.waiting import wait_for
from podlife.workloads.jig import App, AppJig, MakeJig
from podlife.workloads.user import UserApp, user_app

__all__ = [
    "App", "AppJig", "Evidence", "HarnessError", "MakeJig", "NotExercised", "PodlifeError", "PreStop", "Scene",
    "UserApp", "Window", "assert_keeps_serving", "assert_nothing_lost", "check_hit_traffic", "endpoint_removal_lags",
    "observe", "shutdown_times", "user_app", "wait_for",
]
