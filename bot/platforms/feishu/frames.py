"""Feishu long-connection frames: protobuf (proto2) `pbbp2.Frame`, encoded and decoded by hand.

    Header { 1 key: string; 2 value: string }
    Frame  { 1 SeqID: uint64; 2 LogID: uint64; 3 service: int32; 4 method: int32; 5 headers: repeated Header;
             6 payload_encoding: string; 7 payload_type: string; 8 payload: bytes; 9 LogIDNew: string }

Twenty lines of varints instead of a protobuf runtime (the SDK vendors one for this single message);
tests/fakes encode with the SDK's own generated class, so the two are checked against each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

CONTROL, DATA = 0, 1  # Frame.method


class FrameError(ValueError):
    """Bytes that are not a well-formed Frame."""


@dataclass(frozen=True, slots=True)
class Frame:
    seq_id: int = 0
    log_id: int = 0
    service: int = 0
    method: int = CONTROL
    headers: tuple[tuple[str, str], ...] = ()
    payload: bytes | None = None
    payload_encoding: str | None = None
    payload_type: str | None = None
    log_id_new: str | None = None
    _index: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def header(self, key: str) -> str | None:
        if not self._index and self.headers:
            self._index.update(self.headers)
        return self._index.get(key)

    def answered(self, payload: bytes, **extra_headers: str) -> Frame:
        """The acknowledgement: the same frame (ids, service, method, headers) with a new payload."""
        headers = tuple((k, v) for k, v in self.headers if k not in extra_headers) + tuple(extra_headers.items())
        return replace(self, headers=headers, payload=payload, _index={})


def _varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64  # int32/int64 negatives take ten bytes, as protobuf writes them
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _key(number: int, wire: int) -> bytes:
    return _varint(number << 3 | wire)


def _bytes(number: int, data: bytes) -> bytes:
    return _key(number, 2) + _varint(len(data)) + data


def encode(frame: Frame) -> bytes:
    parts = [
        _key(1, 0) + _varint(frame.seq_id),
        _key(2, 0) + _varint(frame.log_id),
        _key(3, 0) + _varint(frame.service),
        _key(4, 0) + _varint(frame.method),
    ]
    for key, value in frame.headers:
        parts.append(_bytes(5, _bytes(1, key.encode()) + _bytes(2, value.encode())))
    for number, text in ((6, frame.payload_encoding), (7, frame.payload_type)):
        if text is not None:
            parts.append(_bytes(number, text.encode()))
    if frame.payload is not None:
        parts.append(_bytes(8, frame.payload))
    if frame.log_id_new is not None:
        parts.append(_bytes(9, frame.log_id_new.encode()))
    return b"".join(parts)


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise FrameError("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def _fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """(field number, value) pairs: ints for varints, bytes for length-delimited; others skipped."""
    fields: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _read_varint(data, pos)
            fields.append((number, value))
        elif wire == 2:
            length, pos = _read_varint(data, pos)
            if pos + length > len(data):
                raise FrameError("truncated field")
            fields.append((number, data[pos : pos + length]))
            pos += length
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
        else:
            raise FrameError(f"unsupported wire type {wire}")
    if pos != len(data):
        raise FrameError("truncated field")
    return fields


def _signed32(value: int) -> int:
    value &= (1 << 64) - 1
    return value - (1 << 64) if value >= 1 << 63 else value


def _text(value: int | bytes) -> str:
    if not isinstance(value, bytes):
        raise FrameError("expected a string field")
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise FrameError("a string field is not UTF-8") from None


def decode(data: bytes) -> Frame:
    values: dict[str, object] = {}
    headers: list[tuple[str, str]] = []
    names = {1: "seq_id", 2: "log_id", 3: "service", 4: "method"}
    for number, value in _fields(data):
        if number in names:
            if not isinstance(value, int):
                raise FrameError(f"field {number} is not a number")
            values[names[number]] = _signed32(value) if number in (3, 4) else value
        elif number == 5:
            pair = dict(_fields(_as_bytes(value)))
            headers.append((_text(pair.get(1, b"")), _text(pair.get(2, b""))))
        elif number == 8:
            values["payload"] = _as_bytes(value)
        elif number in (6, 7, 9):
            values[{6: "payload_encoding", 7: "payload_type", 9: "log_id_new"}[number]] = _text(value)
    return Frame(headers=tuple(headers), **values)  # type: ignore[arg-type]


def _as_bytes(value: int | bytes) -> bytes:
    if not isinstance(value, bytes):
        raise FrameError("expected a length-delimited field")
    return value
