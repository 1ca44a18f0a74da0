"""KPL aggregated records: the exact bytes of a small aggregate, round trips, pass-through and refused records."""

from __future__ import annotations

import hashlib
import random
import re

import pytest

from deploy.local.kpl import MAGIC, aggregate, corrupt, deaggregate, is_aggregated

# aggregate([("a", b"x"), ("b", b"yz"), ("a", b"")]), written out by hand.  A protobuf key byte is
# field_number << 3 | wire_type, wire type 0 a varint, 2 length-delimited.
SMALL_MESSAGE = bytes(
    [
        0x0A, 0x01, 0x61,  # partition_key_table (1, LEN): 1 byte, "a"
        0x0A, 0x01, 0x62,  # partition_key_table (1, LEN): 1 byte, "b"
        0x1A, 0x05,  # records (3, LEN): 5 bytes
        0x08, 0x00,  # .. partition_key_index (1, VARINT) = 0 ("a"; required, so written though 0)
        0x1A, 0x01, 0x78,  # .. data (3, LEN): 1 byte, "x"
        0x1A, 0x06,  # records (3, LEN): 6 bytes
        0x08, 0x01,  # .. partition_key_index = 1 ("b")
        0x1A, 0x02, 0x79, 0x7A,  # .. data: 2 bytes, "yz"
        0x1A, 0x04,  # records (3, LEN): 4 bytes
        0x08, 0x00,  # .. partition_key_index = 0: "a" again, from the table, not stored twice
        0x1A, 0x00,  # .. data: 0 bytes
    ]
)  # fmt: skip
# MD5 of SMALL_MESSAGE (the same from `md5sum` as from hashlib).
SMALL_DIGEST = bytes.fromhex("85e50d951e1083b4a153364c25ae8b09")
SMALL_AGGREGATE = bytes([0xF3, 0x89, 0x9A, 0xC2]) + SMALL_MESSAGE + SMALL_DIGEST


def signed(message: bytes) -> bytes:
    """An aggregated record around ``message`` with a correct checksum."""
    return MAGIC + message + hashlib.md5(message).digest()


def test_a_small_aggregate_has_the_documented_bytes() -> None:
    assert aggregate([("a", b"x"), ("b", b"yz"), ("a", b"")]) == ("a", SMALL_AGGREGATE)
    assert deaggregate(SMALL_AGGREGATE) == [("a", b"x"), ("b", b"yz"), ("a", b"")]


def test_a_length_over_127_takes_a_two_byte_varint() -> None:
    _, data = aggregate([("k", bytes(300))])
    # 300 = 0b10_0101100: low seven bits 0x2C with the continuation bit (0xAC), then 0x02.
    # The record is 2 bytes of key index, 1 of data key, 2 of length and 300 of data: 305 = 0xB1 0x02.
    assert data[: len(MAGIC) + 10] == MAGIC + bytes([0x0A, 0x01, 0x6B, 0x1A, 0xB1, 0x02, 0x08, 0x00, 0x1A, 0xAC])
    assert data[len(MAGIC) + 10] == 0x02
    assert len(data) == len(MAGIC) + 3 + 3 + 305 + 16
    assert deaggregate(data) == [("k", bytes(300))]


def test_records_round_trip() -> None:
    rng = random.Random(5)
    records = [(f"pk-{rng.randrange(20)}-é", rng.randbytes(rng.randrange(0, 2000))) for _ in range(500)]
    partition_key, data = aggregate(records)
    assert partition_key == records[0][0]
    assert is_aggregated(data)
    assert deaggregate(data) == records


def test_partition_keys_are_stored_once() -> None:
    _, repeated = aggregate([("same-key", b"1"), ("same-key", b"2"), ("same-key", b"3")])
    assert repeated.count(b"same-key") == 1
    _, distinct = aggregate([("key-1", b"1"), ("key-2", b"2"), ("key-1", b"3")])
    assert (distinct.count(b"key-1"), distinct.count(b"key-2")) == (1, 1)
    assert deaggregate(distinct) == [("key-1", b"1"), ("key-2", b"2"), ("key-1", b"3")]


def test_a_record_that_is_not_aggregated_passes_through() -> None:
    assert deaggregate(b"3.2,840.0\n", "trip-7") == [("trip-7", b"3.2,840.0\n")]
    assert deaggregate(b"", "empty") == [("empty", b"")]
    assert not is_aggregated(b"\xf3\x89\x9a")


def test_a_corrupted_checksum_is_refused() -> None:
    broken = corrupt(SMALL_AGGREGATE)
    assert broken[:-1] == SMALL_AGGREGATE[:-1]
    assert broken[-1] != SMALL_AGGREGATE[-1]
    with pytest.raises(ValueError, match=r"^the aggregated record's MD5 checksum does not match its message$"):
        deaggregate(broken)


def test_only_an_aggregate_can_be_corrupted() -> None:
    with pytest.raises(ValueError, match=r"^only an aggregated record can be corrupted$"):
        corrupt(b"plain")


def test_explicit_hash_keys_tags_and_unknown_fields_are_read_past() -> None:
    record = bytes([0x08, 0x00, 0x10, 0x00, 0x1A, 0x01, 0x78])  # key index 0, hash key index 0, data "x"
    record += bytes([0x22, 0x05, 0x0A, 0x01, 0x74, 0x12, 0x00])  # tags (4, LEN): key "t", value ""
    record += bytes([0x2D, 1, 2, 3, 4])  # field 5, wire type 5 (fixed32): unknown, skipped
    message = bytes([0x0A, 0x01, 0x61, 0x12, 0x02, 0x31, 0x30])  # key table "a", hash key table "10"
    message += bytes([0x1A, len(record)]) + record
    assert deaggregate(signed(message)) == [("a", b"x")]


@pytest.mark.parametrize(
    ("message", "error"),
    [
        (bytes([0x1A, 0x02, 0x1A, 0x00]), "record 0: partition_key_index and data are required"),
        (bytes([0x1A, 0x02, 0x08, 0x00]), "record 0: partition_key_index and data are required"),
        (bytes([0x1A, 0x04, 0x08, 0x01, 0x1A, 0x00]), "record 0: partition_key_index 1 is outside the table of 0 keys"),
        (
            bytes([0x0A, 0x01, 0x61, 0x1A, 0x06, 0x08, 0x00, 0x10, 0x00, 0x1A, 0x00]),
            "record 0: explicit_hash_key_index 0 is outside the table of 0 keys",
        ),
        (bytes([0x0A, 0x05, 0x61]), "aggregated record: field 1 runs past the end (7 > 3 bytes)"),
        (bytes([0x0A, 0x01, 0xFF]), "aggregated record: field 1 is not UTF-8 text"),
        (bytes([0x08]), "aggregated record: a varint runs past the end"),
        (bytes([0x08] + [0xFF] * 10 + [0x01]), "aggregated record: a varint is longer than 10 bytes"),
        (bytes([0x1B]), "aggregated record: field 3 has the unsupported wire type 3"),
        (bytes([0x1A, 0x01, 0x08]), "record 0: a varint runs past the end"),
        (bytes([0x18, 0x01]), "aggregated record: field 3 is not length-delimited"),
    ],
    ids=[
        "no-key-index",
        "no-data",
        "key-index-outside",
        "hash-key-index-outside",
        "field-too-long",
        "key-not-utf8",
        "truncated-varint",
        "endless-varint",
        "group-wire-type",
        "truncated-record",
        "records-as-varint",
    ],
)
def test_a_malformed_message_is_refused(message: bytes, error: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(error)}$"):
        deaggregate(signed(message))


def test_a_record_too_short_for_a_checksum_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^an aggregated record has at least 20 bytes, got 5$"):
        deaggregate(MAGIC + b"\x00")


def test_an_empty_aggregate_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^an aggregated record needs at least one user record$"):
        aggregate([])
