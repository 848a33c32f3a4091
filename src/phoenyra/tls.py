"""TLS for the services: the certificate pair a server listens with, the CA a client trusts,
and a self-signed pair for running HTTPS on one machine (``phoenyra up --tls``)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from pathlib import Path

from .config import ConfigError


def check_server_pair(cert_file: Path | str | None, key_file: Path | str | None) -> bool:
    """True when TLS is configured; ConfigError when only half of it is or a file is missing.

    Checked before the server starts: uvicorn and Werkzeug would otherwise fail with a bare
    ``FileNotFoundError`` or an OpenSSL error only once they bind the socket."""
    if not cert_file and not key_file:
        return False
    if not cert_file or not key_file:
        raise ConfigError(
            "TLS_CERT_FILE and TLS_KEY_FILE must be set together (the certificate chain and its "
            "private key, PEM)"
        )
    for name, path in (("TLS_CERT_FILE", cert_file), ("TLS_KEY_FILE", key_file)):
        if not Path(path).is_file():
            raise ConfigError(f"{name}={path} does not exist or is not a file")
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert_file, key_file)
    except (ssl.SSLError, ValueError) as exc:
        raise ConfigError(
            f"TLS_CERT_FILE={cert_file} and TLS_KEY_FILE={key_file} are not a matching PEM "
            f"certificate and key: {exc}"
        ) from exc
    return True


def client_context(ca_file: Path | str | None) -> ssl.SSLContext | bool:
    """What a client of the exchange verifies its certificate with: the CA file when one is
    configured (a private or self-signed CA), else the system's trust store (``True``)."""
    if not ca_file:
        return True
    if not Path(ca_file).is_file():
        raise ConfigError(f"EXCHANGE_CA_FILE={ca_file} does not exist or is not a file")
    try:
        return ssl.create_default_context(cafile=str(ca_file))
    except ssl.SSLError as exc:
        raise ConfigError(f"EXCHANGE_CA_FILE={ca_file} is not a PEM CA certificate: {exc}") from exc


def generate_self_signed(
    directory: Path, hosts: list[str], days: int = 825
) -> tuple[Path, Path, Path]:
    """A local CA and a server certificate for ``hosts`` signed by it, in ``directory``;
    returns (certificate, key, CA certificate). An existing valid pair is reused, so a browser
    exception or a trusted CA stays valid across restarts."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path, ca_path = (
        directory / "server.crt",
        directory / "server.key",
        directory / "ca.crt",
    )
    now = dt.datetime.now(dt.UTC)
    if cert_path.is_file() and key_path.is_file() and ca_path.is_file():
        existing = x509.load_pem_x509_certificate(cert_path.read_bytes())
        try:
            names = existing.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            covered = {str(v) for v in names.get_values_for_type(x509.DNSName)} | {
                str(v) for v in names.get_values_for_type(x509.IPAddress)
            }
        except x509.ExtensionNotFound:
            covered = set()
        if existing.not_valid_after_utc > now + dt.timedelta(days=7) and set(hosts) <= covered:
            return cert_path, key_path, ca_path

    def name(common: str) -> x509.Name:
        return x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Phoenyra BESS Trade (local)"),
                x509.NameAttribute(NameOID.COMMON_NAME, common),
            ]
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = name("Phoenyra local CA")
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    alt_names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            alt_names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            alt_names.append(x509.DNSName(host))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name(hosts[0]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        # Browsers refuse server certificates valid for more than 825 days.
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key_path.touch(mode=0o600, exist_ok=True)
    key_path.chmod(0o600)
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path, ca_path
