"""Tests for the local cluster's PKI: trust chain, names, idempotence, kubeconfig, permissions."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from podlife.cluster.local.pki import (
    CA,
    FRONT_PROXY_CA,
    LEAF_NAMES,
    Pki,
    ensure_pki,
    node_leaf,
    write_kubeconfig,
)

NODE = "node-a"
NODE_IP = "10.88.0.2"
#: A second node: every node's kubelet gets certificates of its own.
OTHER, OTHER_IP = "node-b", "10.88.0.3"
SERVICE_IP = "10.96.0.1"
HOSTNAMES = ["podlife.example", "node-a.lan"]


def _pki(root: Path, node_ip: str = NODE_IP, hostnames: list[str] = HOSTNAMES) -> Pki:
    return ensure_pki(root, [(NODE, node_ip), (OTHER, OTHER_IP)], SERVICE_IP, hostnames)


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _sans(cert: x509.Certificate) -> tuple[set[str], set[str]]:
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return (set(names.get_values_for_type(x509.DNSName)),
            {str(ip) for ip in names.get_values_for_type(x509.IPAddress)})


def _decoded(data: str) -> bytes:
    return base64.b64decode(data, validate=True)


def _snapshot(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(root.iterdir())}


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return _pki(tmp_path_factory.mktemp("pki"))


def test_ca_is_self_signed_ca(pki: Pki) -> None:
    for name, common_name in ((CA, "podlife-ca"), (FRONT_PROXY_CA, "podlife-front-proxy-ca")):
        ca = _cert(pki.cert(name))
        ca.verify_directly_issued_by(ca)
        assert ca.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == common_name
        assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        assert ca.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
        assert (ca.not_valid_after_utc - ca.not_valid_before_utc).days >= 3650


EVERY_LEAF = (*LEAF_NAMES, *(node_leaf(kind, node) for node in (NODE, OTHER)
                             for kind in ("kubelet-client", "kubelet-serving")))


@pytest.mark.parametrize("name", EVERY_LEAF)
def test_leaf_signed_by_its_ca_with_leaf_extensions(pki: Pki, name: str) -> None:
    leaf = _cert(pki.cert(name))
    issuer = FRONT_PROXY_CA if name == "front-proxy-client" else CA
    leaf.verify_directly_issued_by(_cert(pki.cert(issuer)))
    constraints = leaf.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and not constraints.value.ca
    usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.key_encipherment and not usage.key_cert_sign
    server = name in ("apiserver", "etcd-server") or name.startswith("kubelet-serving.")
    expected = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    usages = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usages) == [expected]
    assert 364 <= (leaf.not_valid_after_utc - leaf.not_valid_before_utc).days <= 366
    key = serialization.load_pem_private_key(pki.key(name).read_bytes(), password=None)
    assert key.public_key() == leaf.public_key()


@pytest.mark.parametrize(("name", "common_name", "organizations"), [
    ("apiserver-kubelet-client", "kube-apiserver-kubelet-client", ["system:masters"]),
    ("admin", "podlife-admin", ["system:masters"]),
    ("controller-manager", "system:kube-controller-manager", []),
    ("scheduler", "system:kube-scheduler", []),
    ("kube-proxy", "system:kube-proxy", []),
    (node_leaf("kubelet-client", NODE), f"system:node:{NODE}", ["system:nodes"]),
    (node_leaf("kubelet-client", OTHER), f"system:node:{OTHER}", ["system:nodes"]),
    ("front-proxy-client", "front-proxy-client", []),
])
def test_client_identities(pki: Pki, name: str, common_name: str,
                           organizations: list[str]) -> None:
    subject = _cert(pki.cert(name)).subject

    def values(oid: x509.ObjectIdentifier) -> list[object]:
        return [attribute.value for attribute in subject.get_attributes_for_oid(oid)]

    assert values(NameOID.COMMON_NAME) == [common_name]
    assert values(NameOID.ORGANIZATION_NAME) == organizations


def test_apiserver_sans(pki: Pki) -> None:
    dns, ips = _sans(_cert(pki.cert("apiserver")))
    assert dns == {"kubernetes", "kubernetes.default", "kubernetes.default.svc",
                   "kubernetes.default.svc.cluster.local", "localhost", *HOSTNAMES}
    assert ips == {"127.0.0.1", NODE_IP, SERVICE_IP}


def test_kubelet_serving_sans(pki: Pki) -> None:
    for node, ip in ((NODE, NODE_IP), (OTHER, OTHER_IP)):
        dns, ips = _sans(_cert(pki.cert(node_leaf("kubelet-serving", node))))
        assert dns == {node, "localhost"} and ips == {ip, "127.0.0.1"}


def test_unknown_certificate_name_is_refused(pki: Pki) -> None:
    with pytest.raises(ValueError, match="unknown certificate name"):
        pki.cert("kubelet-sevring.node-a")


def test_service_account_keypair(pki: Pki) -> None:
    key = serialization.load_pem_private_key(pki.sa_key.read_bytes(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048
    public = serialization.load_pem_public_key(pki.sa_pub.read_bytes())
    assert public == key.public_key()


def test_private_keys_are_owner_only(pki: Pki) -> None:
    keys = [pki.key(name) for name in (CA, FRONT_PROXY_CA, *EVERY_LEAF)] + [pki.sa_key]
    for path in keys:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert not list(pki.root.glob(".*.tmp"))


def test_second_run_keeps_every_file(tmp_path: Path) -> None:
    before = _snapshot(_pki(tmp_path).root)
    assert _snapshot(_pki(tmp_path).root) == before


def test_changed_node_ip_reissues_only_the_affected_leaves(tmp_path: Path) -> None:
    before = _snapshot(_pki(tmp_path).root)
    pki = _pki(tmp_path, node_ip="10.88.0.9")
    after = _snapshot(tmp_path)
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {f"{leaf}.{ext}" for leaf in ("apiserver", node_leaf("kubelet-serving", NODE))
                       for ext in ("crt", "key")}
    assert "10.88.0.9" in _sans(_cert(pki.cert("apiserver")))[1]
    _cert(pki.cert("apiserver")).verify_directly_issued_by(_cert(pki.ca_cert))


def test_changed_hostnames_reissue_apiserver(tmp_path: Path) -> None:
    before = _pki(tmp_path).cert("apiserver").read_bytes()
    pki = _pki(tmp_path, hostnames=["other.example"])
    assert pki.cert("apiserver").read_bytes() != before
    assert "other.example" in _sans(_cert(pki.cert("apiserver")))[0]


def test_new_ca_reissues_every_leaf(tmp_path: Path) -> None:
    pki = _pki(tmp_path)
    before = _snapshot(tmp_path)
    pki.ca_key.unlink()
    _pki(tmp_path)
    assert pki.ca_cert.read_bytes() != before["ca.crt"]
    for name in LEAF_NAMES:
        if name != "front-proxy-client":
            assert pki.cert(name).read_bytes() != before[f"{name}.crt"], name
            _cert(pki.cert(name)).verify_directly_issued_by(_cert(pki.ca_cert))
    assert pki.cert("front-proxy-client").read_bytes() == before["front-proxy-client.crt"]


def test_mismatched_key_reissues_leaf(tmp_path: Path) -> None:
    pki = _pki(tmp_path)
    pki.key("admin").write_bytes(pki.key("scheduler").read_bytes())
    _pki(tmp_path)
    key = serialization.load_pem_private_key(pki.key("admin").read_bytes(), password=None)
    assert key.public_key() == _cert(pki.cert("admin")).public_key()


def test_unknown_name_is_rejected(pki: Pki) -> None:
    with pytest.raises(ValueError, match="unknown certificate name"):
        pki.cert("admn")


def test_kubeconfig_embeds_credentials(pki: Pki, tmp_path: Path) -> None:
    path = tmp_path / "kube" / "admin.conf"
    write_kubeconfig(path, "https://127.0.0.1:6443", pki.ca_cert, pki.cert("admin"),
                     pki.key("admin"), user="podlife-admin")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    config = yaml.safe_load(path.read_text())
    assert config["kind"] == "Config" and config["current-context"] == "podlife"
    (cluster,) = config["clusters"]
    assert cluster["name"] == "podlife"
    assert cluster["cluster"]["server"] == "https://127.0.0.1:6443"
    assert _decoded(cluster["cluster"]["certificate-authority-data"]) == pki.ca_cert.read_bytes()
    (user,) = config["users"]
    assert user["name"] == "podlife-admin"
    assert _decoded(user["user"]["client-certificate-data"]) == pki.cert("admin").read_bytes()
    assert _decoded(user["user"]["client-key-data"]) == pki.key("admin").read_bytes()
    assert config["contexts"] == [
        {"name": "podlife", "context": {"cluster": "podlife", "user": "podlife-admin"}}]


def test_ip_addresses_are_validated(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        _pki(tmp_path, node_ip="not-an-ip")
    assert not tmp_path.exists() or not list(tmp_path.iterdir())
