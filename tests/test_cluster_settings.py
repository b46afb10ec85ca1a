"""Settings of the local cluster: malformed input is one clear error, differences are named."""

from __future__ import annotations

import pytest

from podlife.cli import parse_dotted, parse_extra_args
from podlife.cluster.kind import node_image
from podlife.cluster.local import kubelet_schema
from podlife.cluster.local.components import Settings, parse_feature_gates
from podlife.errors import PodlifeError

TYPES_GO = '''
type KubeletConfiguration struct {
	metav1.TypeMeta `json:",inline"`
	SyncFrequency metav1.Duration `json:"syncFrequency,omitempty"`
	FeatureGates map[string]bool `json:"featureGates,omitempty"`
	CrashLoopBackOff CrashLoopBackOffConfig `json:"crashLoopBackOff,omitempty"`
	Authentication *KubeletAuthentication `json:"authentication"`
}

type CrashLoopBackOffConfig struct {
	MaxContainerRestartPeriod *metav1.Duration `json:"maxContainerRestartPeriod,omitempty"`
}

type KubeletAuthentication struct {
	X509 KubeletX509Authentication `json:"x509"`
}

type KubeletX509Authentication struct {
	ClientCAFile string `json:"clientCAFile,omitempty"`
}
'''


@pytest.mark.parametrize("items, message", [
    (["crashLoopBackOff"], "expected KEY.PATH=VALUE"),
    (["a..b=1"], "non-empty keys"),
    (["a=[unclosed"], "cannot read the value"),
    (["a=1", "a.b=2"], "which another value already sets"),
])
def test_malformed_kubelet_config_is_one_error(items: list[str], message: str) -> None:
    with pytest.raises(PodlifeError, match=message):
        parse_dotted(items)


def test_kubelet_config_values_are_yaml() -> None:
    assert parse_dotted(["crashLoopBackOff.maxContainerRestartPeriod=60s", "serializeImagePulls=false"]) == {
        "crashLoopBackOff": {"maxContainerRestartPeriod": "60s"}, "serializeImagePulls": False,
    }


@pytest.mark.parametrize("gates", ["A", "A=yes", "A=true,=false", "9x=true"])
def test_malformed_feature_gates_are_refused(gates: str) -> None:
    with pytest.raises(PodlifeError, match="--feature-gates expects"):
        Settings("1.37.2", feature_gates=gates)


def test_feature_gates_parse() -> None:
    assert parse_feature_gates("A=true, B=False") == {"A": True, "B": False}


def test_unknown_extra_arg_component_is_refused() -> None:
    with pytest.raises(PodlifeError, match="unknown component.*kube-apiservr"):
        Settings("1.37.2", extra_args=parse_extra_args(["kube-apiservr=--v=4"]))


def test_changes_name_each_differing_setting() -> None:
    running = Settings("1.37.2")
    wanted = Settings("1.37.2", feature_gates="A=true", kubelet_config={"syncFrequency": "5s"})
    assert wanted.changes_from(running) == [
        "feature gates '' -> 'A=true'",
        "kubelet config {} -> {'syncFrequency': '5s'}",
    ]
    assert Settings.from_record({"version": "1.37.2", "feature_gates": "", "extra_args": {}, "kubelet_config": {}}) == running


def test_kubelet_config_keys_checked_against_the_go_types() -> None:
    structs = kubelet_schema.parse_types(TYPES_GO)
    overrides = {
        "apiVersion": "x", "syncFrequency": "5s", "featureGates": {"Anything": True},
        "crashLoopBackOff": {"maxContainerRestartPeriod": "60s", "maxContainerRestartPeriodd": "1s"},
        "authentication": {"x509": {"clientCAFile": "ca", "clientCAFil": "ca"}},
        "syncFrequncy": "5s",
    }
    assert kubelet_schema.unknown_keys(overrides, structs) == [
        "crashLoopBackOff.maxContainerRestartPeriodd", "authentication.x509.clientCAFil", "syncFrequncy",
    ]


@pytest.mark.parametrize("version, tag", [("1.36", "v1.36.4"), ("v1.37", "v1.37.0"), ("1.31.14", "v1.31.14")])
def test_kind_versions_map_to_published_node_images(version: str, tag: str) -> None:
    image = node_image(version, None)
    assert image is not None and image.startswith(f"kindest/node:{tag}@sha256:")


def test_kind_image_option_wins_and_unknown_versions_are_refused() -> None:
    assert node_image("1.36", "my/node:1") == "my/node:1"
    assert node_image(None, None) is None
    with pytest.raises(PodlifeError, match="no node image for Kubernetes '1.29'"):
        node_image("1.29", None)
    with pytest.raises(PodlifeError, match="not v1.36.2"):
        node_image("1.36.2", None)
