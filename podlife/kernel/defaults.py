"""Defaults of the Kubernetes API and labels of podlife's own, named once for every room that needs them."""

from __future__ import annotations

from typing import Literal

#: The container hooks podlife's witnesses declare, as their records name them (``prestop-start``),
#: and the handlers they use for them.
HookPhase = Literal["poststart", "prestop"]
HookAction = Literal["exec", "httpGet"]

#: The API's default ``terminationGracePeriodSeconds``.
DEFAULT_GRACE = 30

#: Set by ``kube.apply`` on every object a test creates, and on its pod and claim templates, so the
#: objects (and the pods and claims controllers make from them) can be found and removed again.
TEST_LABEL = "podlife.io/test"

#: How the names of podlife's in-cluster traffic pods begin: they share the scenario's namespace
#: and its timeline, and verdicts over the app's pods leave them out.
TRAFFIC_POD_PREFIX = "podlife-traffic-"
