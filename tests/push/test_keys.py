"""The application server key: loading it in each form, and the key-making command."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from realtime.exceptions import ConfigurationError
from realtime.push import VapidKey
from realtime.push.keys import b64url_decode


def test_every_form_loads_the_same_key(tmp_path: Path) -> None:
    key = VapidKey.generate()
    sec1 = key.private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    (tmp_path / "key.pem").write_text(key.pem())
    forms: list[object] = [
        str(tmp_path / "key.pem"),
        tmp_path / "key.pem",
        key.pem(),
        sec1,
        key.private_key,
        key.private_key + "=",
        key.private,
    ]
    for form in forms:
        assert VapidKey.load(form).public_key == key.public_key, form  # type: ignore[arg-type]


def test_the_public_key_is_an_uncompressed_p256_point() -> None:
    key = VapidKey.generate()
    raw = b64url_decode(key.public_key)
    assert len(raw) == 65
    assert raw[0] == 4
    assert "=" not in key.public_key
    assert "+" not in key.public_key
    assert "/" not in key.public_key
    ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)


@pytest.mark.parametrize(
    "source",
    ["", "not a key", "/no/such/file.pem", "AAAA", "-----BEGIN PRIVATE KEY-----\nxx\n-----END"],
)
def test_what_is_not_a_key_is_refused_clearly(source: str) -> None:
    with pytest.raises(ConfigurationError):
        VapidKey.load(source)


def test_a_key_on_another_curve_is_refused() -> None:
    other = ec.generate_private_key(ec.SECP384R1())
    with pytest.raises(ConfigurationError, match="P-256"):
        VapidKey.load(other)
    pem = other.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(ConfigurationError, match="P-256"):
        VapidKey.load(pem)


def test_the_command_writes_a_private_pem_and_prints_the_configuration(tmp_path: Path) -> None:
    out = tmp_path / "vapid.pem"
    done = subprocess.run(
        [sys.executable, "-m", "realtime.push", "--out", str(out), "--subject", "mailto:a@b.c"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    key = VapidKey.load(out)
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    assert key.public_key in done.stdout
    assert f"\"private_key\": '{out}'" in done.stdout
    assert "mailto:a@b.c" in done.stdout
    again = subprocess.run(
        [sys.executable, "-m", "realtime.push", "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert again.returncode == 1
    assert VapidKey.load(out).public_key == key.public_key


def test_the_command_prints_a_raw_key_that_loads() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "realtime.push"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    lines = [line.strip() for line in done.stdout.splitlines()]
    raw = lines[lines.index("public key work only with it):") + 2]
    public = lines[-1]
    assert VapidKey.load(raw).public_key == public
