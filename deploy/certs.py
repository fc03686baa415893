"""A campus certificate authority for the broker's TLS, for campuses without a PKI of their own.

``ca.crt`` / ``ca.key`` (made once and kept: later runs sign with it), ``server.crt`` / ``server.key``
for the broker's host names and addresses, and ``clients/ID.crt`` / ``.key`` per gateway when asked
(the certificate's CN is the gateway id, so ``use_identity_as_username`` can make it the username).
Keys are EC P-256, written 0600. Uses the cryptography package (pyca), the usual choice in Python.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from campus.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Issued:
    ca: Path
    server: Path | None
    clients: tuple[Path, ...]
    new_ca: bool


def _write(path: Path, data: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "meterwatch"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _ca(out: Path, days: int) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey, bool]:
    crt, key = out / "ca.crt", out / "ca.key"
    if crt.exists() and key.exists():
        try:
            loaded = serialization.load_pem_private_key(key.read_bytes(), password=None)
            cert = x509.load_pem_x509_certificate(crt.read_bytes())
        except ValueError as exc:
            raise ConfigError(f"{out}: ca.crt or ca.key cannot be read ({exc}); move them away to make a new CA") \
                from exc
        if not isinstance(loaded, ec.EllipticCurvePrivateKey):
            raise ConfigError(f"{key}: not an EC key made by meterwatch deploy certs")
        return cert, loaded, False
    ca_key = _key()
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(_name("meterwatch campus CA"))
            .issuer_name(_name("meterwatch campus CA")).public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .sign(ca_key, hashes.SHA256()))
    _write(key, _pem_key(ca_key), 0o600)
    _write(crt, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return cert, ca_key, True


def _leaf(ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, cn: str, days: int, *,
          hosts: list[str] | None = None) -> tuple[bytes, bytes]:
    key = _key()
    now = dt.datetime.now(dt.UTC)
    builder = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(ca.subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=days))
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True))
    if hosts is not None:
        names: list[x509.GeneralName] = []
        for h in hosts:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(h)))
            except ValueError:
                names.append(x509.DNSName(h))
        builder = (builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False))
    else:
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    return cert.public_bytes(serialization.Encoding.PEM), _pem_key(key)


def issue(out: Path, *, hosts: list[str], clients: list[str], days: int = 825, ca_days: int = 3650) -> Issued:
    """Make (or reuse) the CA in ``out``; a server certificate for ``hosts`` if any; one per client id."""
    if not hosts and not clients:
        raise ConfigError("nothing to make: give --host NAME for the broker's certificate and/or --client ID")
    ca, ca_key, new = _ca(out, ca_days)
    server = None
    if hosts:
        crt, key = _leaf(ca, ca_key, hosts[0], days, hosts=hosts)
        _write(out / "server.key", key, 0o600)
        _write(out / "server.crt", crt, 0o644)
        server = out / "server.crt"
    made = []
    for cid in clients:
        crt, key = _leaf(ca, ca_key, cid, days)
        _write(out / "clients" / f"{cid}.key", key, 0o600)
        _write(out / "clients" / f"{cid}.crt", crt, 0o644)
        made.append(out / "clients" / f"{cid}.crt")
    return Issued(out / "ca.crt", server, tuple(made), new)
