"""Request bodies and prediction responses: exact encodings, every accepted response form, every refusal."""

from __future__ import annotations

import sys

import pytest

from udfs.inference.codecs import Codec, DecodeError, csv_line

CSV = Codec("text/csv")
JSON = Codec("application/json")


def test_csv_line_writes_each_feature_as_a_float() -> None:
    assert csv_line([3.2, 840]) == "3.2,840.0"
    assert (
        csv_line((1e-07, -0.0, 12345678901234567890, 0.1 + 0.2))
        == "1e-07,-0.0,1.2345678901234567e+19,0.30000000000000004"
    )


def test_csv_body_is_one_line_per_instance_without_a_trailing_newline() -> None:
    assert CSV.encode([[3.2, 840.0], [1.05, 300], [11, 2700.5]]) == b"3.2,840.0\n1.05,300.0\n11.0,2700.5"
    assert CSV.encode([[7.25, 60.0]]) == b"7.25,60.0"


def test_json_body_holds_the_instances_under_the_configured_key() -> None:
    assert JSON.encode([[3.2, 840], [1, 2.5]]) == b'{"instances":[[3.2,840.0],[1.0,2.5]]}'
    assert Codec("application/json", instances_key="rows").encode([[0.5, 7]]) == b'{"rows":[[0.5,7.0]]}'


@pytest.mark.parametrize("codec", [CSV, JSON], ids=["csv", "json"])
def test_sagemaker_scores_are_read_in_order(codec: Codec) -> None:
    body = b'{"predictions": [{"score": 7.28}, {"score": 3.5}, {"score": -1.25}]}'
    assert codec.decode(body, 3) == [7.28, 3.5, -1.25]


def test_a_list_of_numbers_under_the_field_is_read_in_order() -> None:
    assert JSON.decode(b'{"predictions": [7.5, 3, -0.125]}', 3) == [7.5, 3.0, -0.125]


def test_a_single_number_under_the_field_is_one_prediction() -> None:
    assert JSON.decode(b'{"predictions": 7.5}', 1) == [7.5]
    assert Codec("text/csv", response_field="prediction").decode(b'{"prediction": 12.75}', 1) == [12.75]


def test_zero_is_a_prediction_not_a_missing_field() -> None:
    assert JSON.decode(b'{"predictions": 0}', 1) == [0.0]


def test_a_bare_list_document_is_the_predictions() -> None:
    assert JSON.decode(b"[1.5, 2.5]", 2) == [1.5, 2.5]
    assert JSON.decode(b'[{"score": 4.0}]', 1) == [4.0]


def test_configured_response_and_score_fields_are_used() -> None:
    codec = Codec("application/json", response_field="outputs", score_field="value")
    assert codec.decode(b'{"outputs": [{"value": 1.5}, 2.25], "predictions": [9]}', 2) == [1.5, 2.25]


def test_numeric_text_is_accepted_as_a_prediction() -> None:
    assert JSON.decode(b'{"predictions": ["7.5", {"score": "-2"}]}', 2) == [7.5, -2.0]


def test_csv_response_is_one_number_per_line() -> None:
    assert CSV.decode(b"7.5\n8.25\n-3\n", 3) == [7.5, 8.25, -3.0]
    assert CSV.decode(b"  7.5\r\n\r\n8.25  \r\n", 2) == [7.5, 8.25]
    assert CSV.decode(b"42", 1) == [42.0]


def test_a_json_response_to_csv_input_is_read_as_json() -> None:
    assert CSV.decode(b"[1.0, 2.0]", 2) == [1.0, 2.0]


@pytest.mark.parametrize(
    ("codec", "body", "expected", "message"),
    [
        (JSON, b'{"predictions": [1.0]}', 2, "expected 2 predictions, got 1"),
        (JSON, b'{"predictions": [1.0, 2.0, 3.0]}', 2, "expected 2 predictions, got 3"),
        (JSON, b'{"predictions": []}', 1, "expected 1 predictions, got 0"),
        (CSV, b"1.0\n2.0\n", 1, "expected 1 predictions, got 2"),
        (CSV, b"", 1, "expected 1 predictions, got 0"),
        (JSON, b"oops", 1, "response is not JSON: 'oops'"),
        (JSON, b"", 1, "response is not JSON: ''"),
        (JSON, b"<html>" + b"x" * 300, 1, "response is not JSON: '<html>" + "x" * 194 + "'"),
        (CSV, b"{not json", 1, "response is not JSON: '{not json'"),
        (JSON, b'{"scores": [1.0]}', 1, """response has no field 'predictions': '{"scores": [1.0]}'"""),
        (JSON, b'{"predictions": null}', 1, """response has no field 'predictions': '{"predictions": null}'"""),
        (JSON, b"null", 1, "response has no field 'predictions': 'null'"),
        (JSON, b'{"predictions": [{"value": 1}]}', 1, "prediction has no field 'score': {'value': 1}"),
        (JSON, b'{"predictions": ["abc"]}', 1, "prediction is not a number: 'abc'"),
        (JSON, b'{"predictions": [true]}', 1, "prediction is not a number: True"),
        (JSON, b'{"predictions": [null]}', 1, "prediction is not a number: None"),
        (JSON, b'{"predictions": [[1.0]]}', 1, "prediction is not a number: [1.0]"),
        (JSON, b'{"predictions": [{"score": {"x": 1}}]}', 1, "prediction is not a number: {'x': 1}"),
        (JSON, b'{"predictions": [NaN]}', 1, "prediction is not finite: nan"),
        (JSON, b'{"predictions": [{"score": -Infinity}]}', 1, "prediction is not finite: -inf"),
        (JSON, b'{"predictions": [1e400]}', 1, "prediction is not finite: inf"),
        (JSON, b'{"predictions": ["nan"]}', 1, "prediction is not finite: 'nan'"),
        (CSV, b"7.5\nabc\n", 2, "line is not a number: 'abc'"),
        (CSV, b"1.0,2.0", 1, "line is not a number: '1.0,2.0'"),
        (CSV, b"nan", 1, "line is not finite: 'nan'"),
        (CSV, b"inf\n", 1, "line is not finite: 'inf'"),
    ],
)
def test_unusable_responses_are_refused_with_the_reason(codec: Codec, body: bytes, expected: int, message: str) -> None:
    with pytest.raises(DecodeError) as raised:
        codec.decode(body, expected)
    assert str(raised.value) == message
    assert isinstance(raised.value, ValueError)


def test_bytes_that_are_not_utf8_are_reported_with_replacement_characters() -> None:
    with pytest.raises(DecodeError) as raised:
        JSON.decode(b"\xff\xfe", 1)
    assert str(raised.value) == "response is not JSON: '\ufffd\ufffd'"


def test_an_integer_beyond_the_float_range_is_refused_as_a_decode_error() -> None:
    # json reads the integer exactly; float() of it overflows, which is not a number rather than infinity.
    digits = "1" + "0" * 400
    with pytest.raises(DecodeError) as raised:
        JSON.decode(b'{"predictions": [' + digits.encode() + b"]}", 1)
    assert str(raised.value) == f"prediction is not a number: {digits}"


def test_an_integer_score_beyond_the_float_range_is_refused_as_a_decode_error() -> None:
    digits = "9" * 309
    with pytest.raises(DecodeError) as raised:
        JSON.decode(b'{"predictions": [{"score": ' + digits.encode() + b"}]}", 1)
    assert str(raised.value) == f"prediction is not a number: {digits}"


def test_an_integer_beyond_the_conversion_limit_is_refused_as_a_decode_error() -> None:
    body = b'{"predictions": [1' + b"0" * 5000 + b"]}"
    with pytest.raises(DecodeError) as raised:
        JSON.decode(body, 1)
    assert str(raised.value) == 'response is not JSON: \'{"predictions": [1' + "0" * 182 + "'"


@pytest.mark.parametrize(
    ("digits", "message"),
    [
        (4300, "prediction is not a number: 1" + "0" * 4299),
        (4301, 'response is not JSON: \'{"predictions": [1' + "0" * 182 + "'"),
    ],
    ids=["at-the-limit", "one-beyond"],
)
def test_the_conversion_limit_is_where_reading_the_integer_fails(digits: int, message: str) -> None:
    assert sys.get_int_max_str_digits() == 4300  # the interpreter's default limit
    with pytest.raises(DecodeError) as raised:
        JSON.decode(b'{"predictions": [1' + b"0" * (digits - 1) + b"]}", 1)
    assert str(raised.value) == message


@pytest.mark.parametrize(
    ("body", "shown"),
    [
        (b"[" * 100_000, "[" * 200),
        (b'{"predictions": ' + b"[" * 100_000, '{"predictions": ' + "[" * 184),
    ],
    ids=["bare", "under-the-field"],
)
def test_json_nested_beyond_the_recursion_limit_is_refused_as_a_decode_error(body: bytes, shown: str) -> None:
    with pytest.raises(DecodeError) as raised:
        JSON.decode(body, 1)
    assert str(raised.value) == f"response is not JSON: {shown!r}"
