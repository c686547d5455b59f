"""Secret values (tracker tokens) that never show in repr, str, logs or exception messages."""

from __future__ import annotations

from functools import cache, lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

MASK = "********"


class Secret:
    """A secret string. `str()` and `repr()` are masked; `reveal()` returns the plaintext."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Secret):
            return self._value == other._value
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._value)

    def __str__(self) -> str:
        return MASK if self._value else ""

    def __repr__(self) -> str:
        return f"Secret({MASK!r})" if self._value else "Secret('')"

    def __reduce__(self) -> tuple:
        raise TypeError("secrets must not be pickled or serialized")


FERNET_KEY_COMMAND = 'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'


def is_fernet_key(text: str) -> bool:
    """Whether `text` is a usable Fernet key (32 url-safe base64-encoded bytes)."""
    try:
        Fernet(text.encode())
    except (ValueError, TypeError):  # binascii.Error is a ValueError
        return False
    return True


class SecretDecryptionError(Exception):
    """Stored ciphertext cannot be decrypted with any key of SII_FERNET_KEYS."""


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise SecretDecryptionError("SII_FERNET_KEYS is empty")
    return MultiFernet([Fernet(key.encode()) for key in keys])


def encrypt(plaintext: str, keys: tuple[str, ...]) -> str:
    """Encrypt with the first key (keys rotate: put the new key first)."""
    return _fernet(keys).encrypt(plaintext.encode()).decode()


@lru_cache(maxsize=1024)
def decrypt(ciphertext: str, keys: tuple[str, ...]) -> str:
    """Decrypt with whichever key fits.

    Remembered per process (up to 1,024 secrets; failures are not): every download loads its tracker's token, and
    checking and decrypting it cost 0.3 ms of CPU, a thirtieth of a download that finds nothing new. A process holding
    the keys can decrypt every stored secret anyway; keys change only with the settings, that is with a restart.
    """
    try:
        return _fernet(keys).decrypt(ciphertext.encode()).decode()
    except InvalidToken:
        raise SecretDecryptionError("a stored secret cannot be decrypted with any key of SII_FERNET_KEYS") from None


def reencrypt(ciphertext: str, keys: tuple[str, ...]) -> str | None:
    """The ciphertext encrypted with the first key instead (after a key rotation); None if it already is."""
    try:
        Fernet(keys[0].encode()).decrypt(ciphertext.encode())
    except InvalidToken:
        pass
    else:
        return None
    try:
        return _fernet(keys).rotate(ciphertext.encode()).decode()
    except InvalidToken:
        raise SecretDecryptionError("a stored secret cannot be decrypted with any key of SII_FERNET_KEYS") from None
