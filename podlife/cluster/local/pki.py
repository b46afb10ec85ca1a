"""Certificates, keys and kubeconfigs for the local cluster.

Every component of the single-node cluster authenticates with TLS client certificates issued
by one cluster CA; the aggregation layer gets a CA of its own, because the apiserver trusts
any certificate from the front-proxy CA to assert a user's identity and it must not share that
trust with ordinary clients. ``ensure_pki`` is idempotent: a file that is still valid is kept,
so restarting the cluster keeps its CA (kubeconfigs handed out earlier stay usable) and its
service-account key (tokens already issued stay valid). A leaf is reissued only when it is
missing, unreadable, no longer signed by the current CA, about to expire, or no longer names
what it is asked to name (for example after the node IP changed).
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import yaml
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_VALIDITY = dt.timedelta(days=3650)
LEAF_VALIDITY = dt.timedelta(days=365)
#: Reissue a certificate this long before it expires, so a running cluster never meets an expiry.
RENEW_BEFORE = dt.timedelta(days=30)
#: Start validity slightly in the past so a component whose clock lags a little accepts it.
CLOCK_SKEW = dt.timedelta(minutes=5)

CA = "ca"
FRONT_PROXY_CA = "front-proxy-ca"
LEAF_NAMES = ("apiserver", "apiserver-kubelet-client", "admin", "controller-manager", "scheduler",
              "kube-proxy", "front-proxy-client", "etcd-server", "apiserver-etcd-client")
#: Each node's kubelet has a client and a serving certificate of its own, ``<kind>.<node name>``.
NODE_LEAVES = ("kubelet-client", "kubelet-serving")

_IP = ipaddress.IPv4Address | ipaddress.IPv6Address
_PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
_T = TypeVar("_T")


@dataclass(frozen=True)
class Pki:
    """Where each file of the PKI lives; the one place that spells their names."""

    root: Path

    def cert(self, name: str) -> Path:
        """The certificate of ``name``: ``ca``, ``front-proxy-ca``, one of ``LEAF_NAMES`` or a ``node_leaf``."""
        return self.root / f"{_known(name)}.crt"

    def key(self, name: str) -> Path:
        """The private key belonging to ``cert(name)``."""
        return self.root / f"{_known(name)}.key"

    @property
    def ca_cert(self) -> Path:
        return self.cert(CA)

    @property
    def ca_key(self) -> Path:
        return self.key(CA)

    @property
    def front_proxy_ca_cert(self) -> Path:
        return self.cert(FRONT_PROXY_CA)

    @property
    def sa_key(self) -> Path:
        """RSA key the controller-manager signs service-account tokens with."""
        return self.root / "sa.key"

    @property
    def sa_pub(self) -> Path:
        """Public half of ``sa_key``, which the apiserver verifies tokens with."""
        return self.root / "sa.pub"


def node_leaf(kind: str, node_name: str) -> str:
    """The name of a node's kubelet certificate: ``kind`` is one of ``NODE_LEAVES``."""
    return _known(f"{kind}.{node_name}")


def _known(name: str) -> str:
    """Reject a misspelt name here rather than as a missing file deep inside a component."""
    if name not in (CA, FRONT_PROXY_CA, *LEAF_NAMES) and name.partition(".")[0] not in NODE_LEAVES:
        raise ValueError(f"unknown certificate name {name!r}")
    return name


@dataclass(frozen=True)
class _Leaf:
    """What one leaf certificate must say; comparing it with a file decides on reissuing."""

    name: str
    common_name: str
    organizations: tuple[str, ...] = ()
    server: bool = False
    dns: tuple[str, ...] = ()
    ips: tuple[_IP, ...] = ()
    issuer: str = CA

    @property
    def subject(self) -> x509.Name:
        attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in self.organizations]
        return x509.Name([*attributes, x509.NameAttribute(NameOID.COMMON_NAME, self.common_name)])

    @property
    def usage(self) -> x509.ObjectIdentifier:
        return ExtendedKeyUsageOID.SERVER_AUTH if self.server else ExtendedKeyUsageOID.CLIENT_AUTH


@dataclass(frozen=True)
class _Authority:
    cert: x509.Certificate
    key: _PrivateKey


def _leaves(nodes: list[tuple[str, str]], service_ip: str, hostnames: list[str]) -> list[_Leaf]:
    """Every leaf the cluster needs; ``nodes`` are (name, address), the first also the control plane's."""
    node, loopback = ipaddress.ip_address(nodes[0][1]), ipaddress.ip_address("127.0.0.1")
    service = ipaddress.ip_address(service_ip)
    in_cluster = ["kubernetes", "kubernetes.default", "kubernetes.default.svc",
                  "kubernetes.default.svc.cluster.local"]
    masters = ("system:masters",)
    return [
        _Leaf("apiserver", "kube-apiserver", server=True,
              dns=_unique([*in_cluster, "localhost", *hostnames]),
              ips=_unique([loopback, node, service])),
        _Leaf("apiserver-kubelet-client", "kube-apiserver-kubelet-client", masters),
        _Leaf("admin", "podlife-admin", masters),
        _Leaf("controller-manager", "system:kube-controller-manager"),
        _Leaf("scheduler", "system:kube-scheduler"),
        _Leaf("kube-proxy", "system:kube-proxy"),
        _Leaf("front-proxy-client", "front-proxy-client", issuer=FRONT_PROXY_CA),
        _Leaf("etcd-server", "podlife-etcd", server=True, dns=("localhost",), ips=(loopback,)),
        _Leaf("apiserver-etcd-client", "kube-apiserver-etcd-client"),
        *(leaf for name, ip in nodes for leaf in (
            _Leaf(node_leaf("kubelet-client", name), f"system:node:{name}", ("system:nodes",)),
            _Leaf(node_leaf("kubelet-serving", name), name, server=True,
                  dns=_unique([name, "localhost"]), ips=_unique([ipaddress.ip_address(ip), loopback])),
        )),
    ]


def _unique(items: list[_T]) -> tuple[_T, ...]:
    """Drop repeats (the service IP may equal the node IP) but keep the order for readability."""
    return tuple(dict.fromkeys(items))


def ensure_pki(pki_dir: Path, nodes: list[tuple[str, str]], service_ip: str,
               hostnames: list[str]) -> Pki:
    """Create whatever part of the cluster PKI under ``pki_dir`` is missing or stale.

    ``nodes`` are each node's (name, address), the first node's address the API server's too;
    ``hostnames`` are the extra DNS names clients may reach the apiserver by; ``service_ip`` is
    the first address of the service range, which in-cluster clients reach it through.
    """
    leaves = _leaves(nodes, service_ip, hostnames)  # bad input fails before any write
    pki = Pki(pki_dir)
    pki_dir.mkdir(parents=True, exist_ok=True)
    authorities = {
        CA: _ensure_ca(pki, CA, "podlife-ca"),
        FRONT_PROXY_CA: _ensure_ca(pki, FRONT_PROXY_CA, "podlife-front-proxy-ca"),
    }
    for leaf in leaves:
        _ensure_leaf(pki, leaf, authorities[leaf.issuer])
    _ensure_service_account_keys(pki)
    return pki


def _ensure_ca(pki: Pki, name: str, common_name: str) -> _Authority:
    loaded = _load_pair(pki, name)
    if loaded and _fresh(loaded.cert) and _is_ca(loaded.cert):
        return loaded
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = _issue(subject, key, subject, key, CA_VALIDITY, [
        x509.BasicConstraints(ca=True, path_length=None),
        _key_usage(certificate_authority=True),
    ])
    _store(pki, name, cert, key)
    return _Authority(cert, key)


def _ensure_leaf(pki: Pki, leaf: _Leaf, ca: _Authority) -> None:
    loaded = _load_pair(pki, leaf.name)
    if loaded and _fresh(loaded.cert) and _matches(loaded.cert, leaf, ca):
        return
    key = ec.generate_private_key(ec.SECP256R1())
    extensions: list[x509.ExtensionType] = [
        x509.BasicConstraints(ca=False, path_length=None),
        _key_usage(certificate_authority=False),
        x509.ExtendedKeyUsage([leaf.usage]),
        x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
    ]
    if leaf.dns or leaf.ips:
        extensions.append(x509.SubjectAlternativeName(
            [*map(x509.DNSName, leaf.dns), *map(x509.IPAddress, leaf.ips)]))
    cert = _issue(leaf.subject, key, ca.cert.subject, ca.key, LEAF_VALIDITY, extensions)
    _store(pki, leaf.name, cert, key)


def _ensure_service_account_keys(pki: Pki) -> None:
    """RSA rather than EC: every Kubernetes version and token consumer accepts RS256."""
    key = _read_key(pki.sa_key)
    if not isinstance(key, rsa.RSAPrivateKey):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        _write(pki.sa_key, _key_pem(key), 0o600)
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    if not pki.sa_pub.is_file() or pki.sa_pub.read_bytes() != public:
        _write(pki.sa_pub, public, 0o644)


def _key_usage(certificate_authority: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True, key_encipherment=not certificate_authority,
        content_commitment=False, data_encipherment=False, key_agreement=False,
        key_cert_sign=certificate_authority, crl_sign=certificate_authority,
        encipher_only=False, decipher_only=False)


def _issue(subject: x509.Name, key: _PrivateKey, issuer: x509.Name, signer: _PrivateKey,
           validity: dt.timedelta, extensions: list[x509.ExtensionType]) -> x509.Certificate:
    """Sign ``key``'s public half; basicConstraints and keyUsage are critical as RFC 5280 asks."""
    now = dt.datetime.now(dt.timezone.utc)
    builder = (x509.CertificateBuilder()
               .subject_name(subject).issuer_name(issuer).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - CLOCK_SKEW).not_valid_after(now + validity)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False))
    for extension in extensions:
        critical = isinstance(extension, (x509.BasicConstraints, x509.KeyUsage))
        builder = builder.add_extension(extension, critical)
    return builder.sign(signer, hashes.SHA256())


def _load_pair(pki: Pki, name: str) -> _Authority | None:
    """The stored certificate and key, or None when either is unusable or they do not belong
    together (a crash between writing the key and the certificate leaves such a pair)."""
    key = _read_key(pki.key(name))
    try:
        cert = x509.load_pem_x509_certificate(pki.cert(name).read_bytes())
    except (OSError, ValueError):
        return None
    if key is None or cert.public_key() != key.public_key():
        return None
    return _Authority(cert, key)


def _read_key(path: Path) -> _PrivateKey | None:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError, UnsupportedAlgorithm):
        return None
    return key if isinstance(key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)) else None


def _fresh(cert: x509.Certificate) -> bool:
    return cert.not_valid_after_utc - dt.datetime.now(dt.timezone.utc) > RENEW_BEFORE


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def _matches(cert: x509.Certificate, leaf: _Leaf, ca: _Authority) -> bool:
    """Whether ``cert`` is what ``leaf`` asks for today, signed by the CA in use today."""
    try:
        cert.verify_directly_issued_by(ca.cert)
        usages = set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except (ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound):
        return False
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns = names.get_values_for_type(x509.DNSName)
        ips = names.get_values_for_type(x509.IPAddress)
    except x509.ExtensionNotFound:
        dns, ips = [], []
    return (cert.subject == leaf.subject and usages == {leaf.usage}
            and set(dns) == set(leaf.dns) and set(ips) == set(leaf.ips))


def _store(pki: Pki, name: str, cert: x509.Certificate, key: _PrivateKey) -> None:
    """Key first: a crash in between leaves a mismatched pair, which the next run replaces."""
    _write(pki.key(name), _key_pem(key), 0o600)
    _write(pki.cert(name), cert.public_bytes(serialization.Encoding.PEM), 0o644)


def _key_pem(key: _PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write through a temporary file and rename, so a reader never sees half a file and a
    key is never readable by others, not even for a moment or because of the umask."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as file:
        os.fchmod(file.fileno(), mode)
        file.write(data)
    os.replace(temporary, path)


def write_kubeconfig(path: Path, server: str, ca_cert: Path, client_cert: Path,
                     client_key: Path, user: str, cluster_name: str = "podlife",
                     context_name: str = "podlife") -> None:
    """Write a kubeconfig that embeds its certificates, so it still works when copied elsewhere
    or read from inside a container that cannot see the PKI directory."""

    def embedded(source: Path) -> str:
        return base64.b64encode(source.read_bytes()).decode("ascii")

    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster_name, "cluster": {
            "server": server, "certificate-authority-data": embedded(ca_cert)}}],
        "users": [{"name": user, "user": {
            "client-certificate-data": embedded(client_cert),
            "client-key-data": embedded(client_key)}}],
        "contexts": [{"name": context_name, "context": {"cluster": cluster_name, "user": user}}],
        "current-context": context_name,
        "preferences": {},
    }
    _write(path, yaml.safe_dump(config, sort_keys=False).encode(), 0o600)
