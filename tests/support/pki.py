"""A throw-away certificate authority made with openssl, for brokers that demand TLS.

Certificates carry the extensions strict verifiers ask for (key identifiers, key usage, basic
constraints), so a refusal in a test is the one the test provoked, not a malformed certificate.
Keys are unencrypted PKCS#8, the form Kafka's PEM keystores and Python's `ssl` both read.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

DAYS = "2"


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


@dataclass(frozen=True)
class Issued:
    """A certificate and its key; `bundle` holds both, the layout of a Kafka PEM keystore."""

    cert: Path
    key: Path
    bundle: Path


@dataclass(frozen=True)
class CertificateAuthority:
    cert: Path
    key: Path

    @classmethod
    def create(cls, folder: Path, name: str) -> CertificateAuthority:
        folder.mkdir(parents=True, exist_ok=True)
        cert, key = folder / f"{name}.pem", folder / f"{name}.key"
        _openssl(
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", DAYS,
            "-subj", f"/CN={name}", "-keyout", str(key), "-out", str(cert),
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            "-addext", "subjectKeyIdentifier=hash",
        )  # fmt: skip
        return cls(cert, key)

    def issue(self, common_name: str, alt_names: str | None = None) -> Issued:
        """A leaf certificate for `common_name`, good for both TLS ends; `alt_names` is an
        openssl subjectAltName value such as `IP:127.0.0.1` (the names a client checks)."""
        folder = self.cert.parent
        key, csr, cert = (folder / f"{common_name}.{ext}" for ext in ("key", "csr", "pem"))
        _openssl(
            "req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={common_name}",
            "-keyout", str(key), "-out", str(csr),
        )  # fmt: skip
        extensions = folder / f"{common_name}.ext"
        lines = [
            "basicConstraints=critical,CA:FALSE",
            "keyUsage=critical,digitalSignature,keyEncipherment",
            "extendedKeyUsage=serverAuth,clientAuth",
            "subjectKeyIdentifier=hash",
            "authorityKeyIdentifier=keyid",
        ]
        if alt_names:
            lines.append(f"subjectAltName={alt_names}")
        extensions.write_text("\n".join(lines) + "\n")
        _openssl(
            "x509", "-req", "-in", str(csr), "-CA", str(self.cert), "-CAkey", str(self.key),
            "-CAcreateserial", "-days", DAYS, "-extfile", str(extensions), "-out", str(cert),
        )  # fmt: skip
        bundle = folder / f"{common_name}-bundle.pem"
        bundle.write_text(key.read_text() + cert.read_text())
        return Issued(cert, key, bundle)
