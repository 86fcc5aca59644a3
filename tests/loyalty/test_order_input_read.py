"""``order_input_read`` (an order body read without DRF's fields) gives what
``OrderInputSerializer`` gives, or leaves the body to it: never another answer."""

import copy

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loyalty.api.fastpath import order_input_read
from loyalty.api.serializers import OrderInputSerializer

BODY = {
    "external_id": "order-5001",
    "member": {"external_id": "cust-1001", "email": "ana@example.com"},
    "total": "120.00",
    "currency": "USD",
    "placed_at": "2026-11-20T14:03:00Z",
    "lines": [
        {"sku": "TENT-2P", "category": "camping", "quantity": 1, "unit_price": "100.00"},
        {"sku": " MUG ", "category": "", "quantity": 2, "unit_price": "10"},
    ],
}


def serializer_answer(data):
    serializer = OrderInputSerializer(data=copy.deepcopy(data))
    return serializer.validated_data if serializer.is_valid() else None


def assert_same(data):
    read = order_input_read(copy.deepcopy(data))
    if read is not None:
        assert read == serializer_answer(data), data


def changed(**fields):
    body = copy.deepcopy(BODY)
    body.update(fields)
    return body


def test_the_usual_body_is_read_as_the_serializer_reads_it():
    assert order_input_read(copy.deepcopy(BODY)) is not None
    assert_same(BODY)


@pytest.mark.parametrize(
    "body",
    [
        changed(member="cust-1"),
        changed(member={"external_id": "c", "first_name": "  Ana ", "last_name": ""}),
        changed(member={"external_id": "c", "email": ""}),
        changed(member={"external_id": "c", "email": "not an email"}),
        changed(member={"external_id": "c", "country": "FR"}),
        changed(member={"external_id": "c", "first_name": "José"}),
        changed(member={"external_id": "c", "unknown": [1]}),
        changed(member={"external_id": " c"}),
        changed(member=["c"]),
        changed(member=None),
        changed(external_id="x" * 129),
        changed(external_id="a b"),
        changed(external_id="ok\n"),
        changed(total="1e3"),
        changed(total=120),
        changed(total="12345678901.00"),
        changed(total="1.12345"),
        changed(total="0"),
        changed(total="0000000001.5"),
        changed(currency="usd"),
        changed(currency="XXX"),
        changed(currency=None),
        changed(placed_at="2026-11-20"),
        changed(placed_at="2026-11-20T14:03:00+02:00"),
        changed(placed_at="2026-11-20T14:03:00.123456"),
        changed(placed_at="yesterday"),
        changed(placed_at=""),
        changed(store=None),
        changed(store="0b6c5a3e-2f41-4a8e-9d4e-4a7f3b1c2d5e"),
        changed(store="0B6C5A3E2F414A8E9D4E4A7F3B1C2D5E"),
        changed(store="nope"),
        changed(store=""),
        changed(lines=[]),
        changed(lines=None),
        changed(lines={}),
        changed(lines=[{"quantity": 1, "unit_price": "1"}]),
        changed(lines=[{"quantity": True, "unit_price": "1"}]),
        changed(lines=[{"quantity": 0, "unit_price": "1"}]),
        changed(lines=[{"quantity": 1_000_001, "unit_price": "1"}]),
        changed(lines=[{"quantity": 1.0, "unit_price": "1"}]),
        changed(lines=[{"quantity": 1, "unit_price": "1", "sku": "x" * 129}]),
        changed(lines=[{"quantity": 1, "unit_price": "1", "sku": "  " + "x" * 128 + " "}]),
        changed(lines=[{"quantity": 1, "unit_price": "1", "sku": None}]),
        changed(lines=[{"quantity": 1, "unit_price": "1", "sku": "a\x00b"}]),
        changed(lines=[{"quantity": 1, "unit_price": "1", "extra": 1}]),
        changed(lines=["line"]),
        changed(lines=[{"quantity": 1, "unit_price": "1"}] * 1001),
        changed(extra={"ignored": True}),
        {key: value for key, value in BODY.items() if key != "total"},
        {key: value for key, value in BODY.items() if key != "lines"},
        [],
        "order",
        None,
    ],
)
def test_each_shape_is_read_as_the_serializer_reads_it_or_left_to_it(body):
    assert_same(body)


texts = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", " ", "a", "x" * 128, "x" * 129, "é", "\x00", " a ", "1.5", "USD"]),
)
scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 2_000_000), st.floats(), texts)
amounts = st.one_of(
    st.from_regex(r"\A[0-9]{1,12}(\.[0-9]{0,6})?\Z"), st.sampled_from(["-1", "1e2", " 1"])
)
lines = st.fixed_dictionaries(
    {},
    optional={
        "sku": st.one_of(texts, scalars),
        "category": texts,
        "quantity": st.one_of(st.integers(-1, 1_000_002), scalars),
        "unit_price": st.one_of(amounts, scalars),
        "other": scalars,
    },
)
members = st.one_of(
    texts,
    st.fixed_dictionaries(
        {"external_id": st.one_of(st.from_regex(r"\A[a-z0-9.-]{1,6}\Z"), texts)},
        optional={
            "email": st.one_of(st.emails(), texts),
            "first_name": texts,
            "last_name": texts,
            "locale": texts,
        },
    ),
    scalars,
)
bodies = st.fixed_dictionaries(
    {},
    optional={
        "external_id": st.one_of(st.from_regex(r"\A[A-Za-z0-9._:@+=-]{1,8}\Z"), texts),
        "member": members,
        "total": st.one_of(amounts, scalars),
        "currency": st.one_of(st.sampled_from(["USD", "EUR", "JPY", "usd", "ZZZ"]), scalars),
        "placed_at": st.one_of(
            st.datetimes(timezones=st.timezones()).map(lambda at: at.isoformat()), texts
        ),
        "store": st.one_of(st.uuids().map(str), scalars),
        "lines": st.one_of(st.lists(lines, max_size=3), scalars),
    },
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bodies)
def test_any_body_is_read_as_the_serializer_reads_it_or_left_to_it(body):
    assert_same(body)


valid_lines = st.fixed_dictionaries(
    {
        "quantity": st.integers(0, 1_000_001),
        "unit_price": st.one_of(st.from_regex(r"\A[0-9]{1,11}(\.[0-9]{1,5})?\Z"), amounts),
    },
    optional={"sku": texts, "category": texts},
)
nearly_valid = st.fixed_dictionaries(
    {
        "external_id": st.from_regex(r"\A[A-Za-z0-9._:@+=-]{1,8}\Z"),
        "member": st.one_of(
            st.from_regex(r"\A[a-z0-9]{1,6}\Z"),
            st.fixed_dictionaries(
                {"external_id": st.from_regex(r"\A[a-z0-9]{1,6}\Z")},
                optional={"email": st.one_of(st.emails(), texts), "first_name": texts},
            ),
        ),
        "total": st.from_regex(r"\A[0-9]{1,11}(\.[0-9]{1,5})?\Z"),
        "currency": st.sampled_from(["USD", "EUR", "JPY", "KWD"]),
        "placed_at": st.datetimes(timezones=st.timezones()).map(lambda at: at.isoformat()),
    },
    optional={"lines": st.lists(valid_lines, max_size=3), "store": st.uuids().map(str)},
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(nearly_valid)
def test_nearly_valid_bodies_are_read_as_the_serializer_reads_them(body):
    assert_same(body)
    # A valid body of printable ASCII text is read without the serializer.
    if serializer_answer(body) is not None and all(
        text.isascii() and text.isprintable() for text in _texts(body)
    ):
        assert order_input_read(copy.deepcopy(body)) is not None, body


def _texts(body):
    member = body["member"] if isinstance(body["member"], dict) else {}
    yield from (value for value in member.values() if isinstance(value, str))
    for line in body.get("lines", []):
        yield from (value for value in line.values() if isinstance(value, str))
