"""Kinesis Producer Library aggregated records: many user records in one Kinesis record, for local producers and tests.

The format (awslabs/amazon-kinesis-producer, ``aggregation-format.md``) is the 4 magic bytes ``F3 89 9A C2``, then
a protobuf message, then the 16-byte MD5 digest of that message::

    message AggregatedRecord {
        repeated string partition_key_table = 1;
        repeated string explicit_hash_key_table = 2;
        repeated Record records = 3;
    }
    message Record {
        required uint64 partition_key_index = 1;
        optional uint64 explicit_hash_key_index = 2;
        required bytes data = 3;
        repeated Tag tags = 4;
    }
    message Tag {
        required string key = 1;
        optional string value = 2;
    }

The protobuf wire format is written and read here by hand (varints and length-delimited fields), as the format needs
only those two wire types and a protobuf runtime would be a dependency for four small messages.  Explicit hash keys
and tags are read past, not returned: the job's records carry neither.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

MAGIC = bytes([0xF3, 0x89, 0x9A, 0xC2])
DIGEST_SIZE = hashlib.md5().digest_size

_VARINT = 0
_FIXED64 = 1
_LENGTH_DELIMITED = 2
_FIXED32 = 5

# Field numbers of AggregatedRecord, Record and Tag.
_PARTITION_KEY_TABLE = 1
_EXPLICIT_HASH_KEY_TABLE = 2
_RECORDS = 3
_PARTITION_KEY_INDEX = 1
_EXPLICIT_HASH_KEY_INDEX = 2
_DATA = 3
_TAGS = 4
_TAG_KEY = 1

_MAX_VARINT_BYTES = 10


def aggregate(records: Sequence[tuple[str, bytes]]) -> tuple[str, bytes]:
    """One Kinesis record holding ``records`` (partition key, data): its partition key, the first record's, and data.

    Each distinct partition key is stored once in the key table, in order of first use.
    """
    if not records:
        raise ValueError("an aggregated record needs at least one user record")
    key_indexes: dict[str, int] = {}
    encoded_records = bytearray()
    for partition_key, data in records:
        index = key_indexes.setdefault(partition_key, len(key_indexes))
        record = _varint_field(_PARTITION_KEY_INDEX, index) + _bytes_field(_DATA, bytes(data))
        encoded_records += _bytes_field(_RECORDS, record)
    message = b"".join(_bytes_field(_PARTITION_KEY_TABLE, key.encode("utf-8")) for key in key_indexes)
    message += bytes(encoded_records)
    return records[0][0], MAGIC + message + hashlib.md5(message).digest()


def is_aggregated(data: bytes) -> bool:
    """Whether ``data`` starts like an aggregated record (its checksum is not checked)."""
    return data.startswith(MAGIC)


def deaggregate(data: bytes, partition_key: str = "") -> list[tuple[str, bytes]]:
    """The user records (partition key, data) in a Kinesis record, in order.

    A record that does not start with the magic bytes is not aggregated and comes back as ``[(partition_key, data)]``.
    Raises ValueError for an aggregated record whose checksum does not match or whose message is malformed.
    """
    if not is_aggregated(data):
        return [(partition_key, data)]
    if len(data) < len(MAGIC) + DIGEST_SIZE:
        raise ValueError(f"an aggregated record has at least {len(MAGIC) + DIGEST_SIZE} bytes, got {len(data)}")
    message, digest = data[len(MAGIC) : -DIGEST_SIZE], data[-DIGEST_SIZE:]
    if hashlib.md5(message).digest() != digest:
        raise ValueError("the aggregated record's MD5 checksum does not match its message")
    return _AggregatedRecord.parse(message).user_records()


def corrupt(data: bytes) -> bytes:
    """``data``, an aggregated record, with a checksum that no longer matches: for testing readers."""
    if not is_aggregated(data) or len(data) < len(MAGIC) + DIGEST_SIZE:
        raise ValueError("only an aggregated record can be corrupted")
    return data[:-1] + bytes([data[-1] ^ 0xFF])


# -- the wire format -------------------------------------------------------------------------------------------------


def _varint(value: int) -> bytes:
    if value < 0:
        raise ValueError(f"a varint is not negative, got {value}")
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _key(field_number: int, wire_type: int) -> bytes:
    return _varint(field_number << 3 | wire_type)


def _varint_field(field_number: int, value: int) -> bytes:
    return _key(field_number, _VARINT) + _varint(value)


def _bytes_field(field_number: int, value: bytes) -> bytes:
    return _key(field_number, _LENGTH_DELIMITED) + _varint(len(value)) + value


@dataclass(frozen=True)
class _Field:
    number: int
    # The integer of a varint field, else None.
    number_value: int | None
    # The payload of a length-delimited field, else None.
    payload: bytes | None

    def integer(self, message: str) -> int:
        if self.number_value is None:
            raise ValueError(f"{message}: field {self.number} is not a varint")
        return self.number_value

    def content(self, message: str) -> bytes:
        if self.payload is None:
            raise ValueError(f"{message}: field {self.number} is not length-delimited")
        return self.payload

    def text(self, message: str) -> str:
        try:
            return self.content(message).decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"{message}: field {self.number} is not UTF-8 text") from None


def _fields(buffer: bytes, message: str) -> Iterator[_Field]:
    """The fields of one protobuf message; fields of other wire types are read past, as protobuf readers do."""
    position = 0
    while position < len(buffer):
        key, position = _read_varint(buffer, position, message)
        number, wire_type = key >> 3, key & 0x7
        if number == 0:
            raise ValueError(f"{message}: field number 0 at byte {position}")
        if wire_type == _VARINT:
            value, position = _read_varint(buffer, position, message)
            yield _Field(number, value, None)
        elif wire_type == _LENGTH_DELIMITED:
            length, position = _read_varint(buffer, position, message)
            end = position + length
            if end > len(buffer):
                raise ValueError(f"{message}: field {number} runs past the end ({end} > {len(buffer)} bytes)")
            yield _Field(number, None, buffer[position:end])
            position = end
        elif wire_type in (_FIXED64, _FIXED32):
            position += 8 if wire_type == _FIXED64 else 4
            if position > len(buffer):
                raise ValueError(f"{message}: field {number} runs past the end")
        else:
            raise ValueError(f"{message}: field {number} has the unsupported wire type {wire_type}")


def _read_varint(buffer: bytes, position: int, message: str) -> tuple[int, int]:
    value = 0
    for shift in range(_MAX_VARINT_BYTES):
        if position >= len(buffer):
            raise ValueError(f"{message}: a varint runs past the end")
        byte = buffer[position]
        position += 1
        value |= (byte & 0x7F) << (7 * shift)
        if not byte & 0x80:
            return value, position
    raise ValueError(f"{message}: a varint is longer than {_MAX_VARINT_BYTES} bytes")


@dataclass(frozen=True)
class _UserRecord:
    partition_key_index: int
    explicit_hash_key_index: int | None
    data: bytes

    @classmethod
    def parse(cls, buffer: bytes, position: int) -> _UserRecord:
        where = f"record {position}"
        key_index: int | None = None
        hash_key_index: int | None = None
        data: bytes | None = None
        for field in _fields(buffer, where):
            if field.number == _PARTITION_KEY_INDEX:
                key_index = field.integer(where)
            elif field.number == _EXPLICIT_HASH_KEY_INDEX:
                hash_key_index = field.integer(where)
            elif field.number == _DATA:
                data = field.content(where)
            elif field.number == _TAGS:
                _check_tag(field.content(where), where)
        if key_index is None or data is None:
            raise ValueError(f"{where}: partition_key_index and data are required")
        return cls(key_index, hash_key_index, data)


def _check_tag(buffer: bytes, where: str) -> None:
    if not any(field.number == _TAG_KEY for field in _fields(buffer, f"{where}, tag")):
        raise ValueError(f"{where}: a tag needs a key")


@dataclass(frozen=True)
class _AggregatedRecord:
    partition_keys: tuple[str, ...]
    explicit_hash_keys: tuple[str, ...]
    records: tuple[_UserRecord, ...]

    @classmethod
    def parse(cls, buffer: bytes) -> _AggregatedRecord:
        where = "aggregated record"
        partition_keys: list[str] = []
        hash_keys: list[str] = []
        records: list[_UserRecord] = []
        for field in _fields(buffer, where):
            if field.number == _PARTITION_KEY_TABLE:
                partition_keys.append(field.text(where))
            elif field.number == _EXPLICIT_HASH_KEY_TABLE:
                hash_keys.append(field.text(where))
            elif field.number == _RECORDS:
                records.append(_UserRecord.parse(field.content(where), len(records)))
        return cls(tuple(partition_keys), tuple(hash_keys), tuple(records))

    def user_records(self) -> list[tuple[str, bytes]]:
        out = []
        for position, record in enumerate(self.records):
            if record.partition_key_index >= len(self.partition_keys):
                raise ValueError(
                    f"record {position}: partition_key_index {record.partition_key_index} is outside "
                    f"the table of {len(self.partition_keys)} keys"
                )
            hash_key_index = record.explicit_hash_key_index
            if hash_key_index is not None and hash_key_index >= len(self.explicit_hash_keys):
                raise ValueError(
                    f"record {position}: explicit_hash_key_index {hash_key_index} is outside "
                    f"the table of {len(self.explicit_hash_keys)} keys"
                )
            out.append((self.partition_keys[record.partition_key_index], record.data))
        return out
