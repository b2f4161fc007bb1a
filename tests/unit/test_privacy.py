"""Personal data encryption and its key file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from kiosk.privacy import KeyFileError, PersonalDataCipher


def test_missing_key_file_is_created_readable_only_by_the_owner(tmp_path: Path) -> None:
    key = tmp_path / "keys" / "personal.key"

    cipher = PersonalDataCipher.from_key_file(key, create=True)

    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert cipher.decrypt(cipher.encrypt({"name": "Иванов"})) == {"name": "Иванов"}


def test_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    key = tmp_path / "personal.key"
    key.write_bytes(Fernet.generate_key())
    os.chmod(key, 0o644)

    with pytest.raises(KeyFileError, match="chmod 600"):
        PersonalDataCipher.from_key_file(key)


def test_missing_key_file_is_an_error_unless_creation_is_asked(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="not found"):
        PersonalDataCipher.from_key_file(tmp_path / "absent.key")


def test_ciphertext_does_not_contain_the_plain_text(tmp_path: Path) -> None:
    cipher = PersonalDataCipher.from_key_file(tmp_path / "k", create=True)

    token = cipher.encrypt({"passport": "4510 123456"})

    assert b"4510" not in token and "4510".encode("utf-16-le") not in token


def test_a_rotated_key_still_opens_old_data(tmp_path: Path) -> None:
    key = tmp_path / "k"
    old = PersonalDataCipher.from_key_file(key, create=True)
    token = old.encrypt({"a": 1})
    key.write_bytes(Fernet.generate_key() + b"\n" + key.read_bytes())

    assert PersonalDataCipher.from_key_file(key).decrypt(token) == {"a": 1}


def test_data_under_another_key_cannot_be_read(tmp_path: Path) -> None:
    token = PersonalDataCipher.from_key_file(tmp_path / "a", create=True).encrypt({"a": 1})

    with pytest.raises(KeyFileError, match="cannot be decrypted"):
        PersonalDataCipher.from_key_file(tmp_path / "b", create=True).decrypt(token)
