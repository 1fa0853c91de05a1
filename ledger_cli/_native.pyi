# Types of the C extension built from _native.c (optional: see service.native_fold).

from decimal import Decimal

API: int

def fold(
    block: bytes,
    pos: int,
    seq: int,
    head: str,
    ts: str,
    balances: dict[str, object],
    opened: dict[str, bool],
    keys: dict[str, int] | None,
    stop_seq: int,
    stop_ts: str | None,
    token: object,
    starts: list[int] | None = None,
    only: str | None = None,
    reversed_by: dict[int, int] | None = None,
    reversals: list[int] | None = None,
    fd: int = -1,
    offset: int = 0,
    /,
) -> tuple[int, int, int, str, str, int]: ...
def sync(token: object, names: tuple[str | None, ...] | None = None, /) -> None: ...
def sha256_hex(data: bytes, /) -> str: ...
def clear_caches() -> None: ...
def use_portable_sha(portable: bool, /) -> bool: ...
def text_ok(kind: str, text: str, /) -> bool: ...
def seal_move(
    kind: str,
    seq: int,
    id: str,
    ts: str,
    prev: str,
    account: str,
    to: str | None,
    amount: str,
    memo: str | None,
    key: str | None,
    /,
) -> tuple[bytes, str] | None: ...
def amount(text: str, /) -> Decimal | None: ...
