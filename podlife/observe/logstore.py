"""What a log store holds: the lines it returns for a phrase, with the pod identity it keeps beside them.

The store is queried over VictoriaLogs' HTTP API (``/select/logsql/query``), whether podlife
installed it (OP-06 on the local cluster) or the user named their cluster's own with
``--log-query``. Pipelines name the pod's identity differently (OpenTelemetry's ``k8s.*``
attributes, Fluent Bit's and Vector's ``kubernetes.*`` fields), so each is looked up under the
names those use. A store that cannot be reached or answers with an error is a ``HarnessError``:
what it could not say is not evidence that lines are missing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import urlsplit

import requests

from podlife.errors import HarnessError, PodlifeError

#: Seconds one query or ingest may take; the stores here answer in milliseconds.
TIMEOUT = 10.0
NAMESPACE_FIELDS = ("k8s.namespace.name", "kubernetes.namespace_name", "kubernetes.pod_namespace", "namespace")
POD_FIELDS = ("k8s.pod.name", "kubernetes.pod_name", "pod")
CONTAINER_FIELDS = ("k8s.container.name", "kubernetes.container_name", "container")


@dataclass(frozen=True)
class StoredLine:
    """One line as the store returns it."""

    message: str
    #: The line's timestamp in the store (RFC 3339), by which the store orders lines.
    time: str
    namespace: str | None
    pod: str | None
    container: str | None


def _first(record: dict[str, str], names: tuple[str, ...]) -> str | None:
    return next((record[name] for name in names if record.get(name)), None)


def parse_query_url(value: str) -> str:
    """``--log-query``: ``victorialogs+http(s)://HOST[:PORT]`` or a plain ``http(s)://`` URL; the HTTP base URL.

    Only VictoriaLogs' query API is spoken; anything else is a ``PodlifeError`` of one line.
    """
    scheme, sep, rest = value.partition("://")
    kind, plus, transport = scheme.rpartition("+")
    if not sep or transport not in ("http", "https") or (plus and kind != "victorialogs"):
        raise PodlifeError(f"--log-query {value!r}: expected victorialogs+http://HOST[:PORT] (VictoriaLogs' query API; "
                           "other stores are not supported)")
    if not urlsplit(f"{transport}://{rest}").hostname:
        raise PodlifeError(f"--log-query {value!r}: no host")
    return f"{transport}://{rest.rstrip('/')}"


class VictoriaLogs:
    """A VictoriaLogs server at ``url``."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def _call(self, method: str, path: str, doing: str, **kwargs: object) -> requests.Response:
        try:
            response = requests.request(method, f"{self.url}{path}", timeout=TIMEOUT, **kwargs)  # type: ignore[arg-type]
        except requests.RequestException as err:
            raise HarnessError(f"the log store at {self.url} did not answer {doing}: {type(err).__name__}") from None
        if response.status_code != 200:
            raise HarnessError(f"the log store at {self.url} refused {doing}: HTTP {response.status_code} "
                               f"{response.text.strip()[:200]}")
        return response

    def answers(self) -> bool:
        """Whether the store answers its health check (a Service's address may take a moment to route)."""
        try:
            return requests.get(f"{self.url}/health", timeout=TIMEOUT).status_code == 200
        except requests.RequestException:
            return False

    def lines(self, phrase: str) -> list[StoredLine]:
        """Every line of the last hour holding ``phrase``, oldest first.

        The hour bounds the search in a cluster's own store, which may hold months; a test's lines
        are minutes old.
        """
        query = f"_time:1h {json.dumps(phrase)} | sort by (_time)"
        response = self._call("GET", "/select/logsql/query", f"the query {query!r}", params={"query": query})
        found = []
        for raw in response.text.splitlines():
            if not raw.strip():
                continue
            record = json.loads(raw)
            found.append(StoredLine(str(record.get("_msg", "")), str(record.get("_time", "")),
                                    _first(record, NAMESPACE_FIELDS), _first(record, POD_FIELDS),
                                    _first(record, CONTAINER_FIELDS)))
        return found

    def ingest(self, message: str) -> None:
        """Store one line directly (no collector involved), as the store's own JSON-lines ingest takes it."""
        record = {"_msg": message, "_time": datetime.now(timezone.utc).isoformat(), "source": "podlife"}
        self._call("POST", "/insert/jsonline", "a line ingested directly", params={"_stream_fields": "source"},
                   data=json.dumps(record) + "\n")
