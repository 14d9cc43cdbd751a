"""orjson's feed bodies are byte for byte what the app's JSON provider writes."""

from __future__ import annotations

import json

from flask import Flask, jsonify
from hypothesis import given
from hypothesis import strategies as st

from service.api.json_body import json_response
from service.app import JSONProvider

TEXT = st.text(max_size=12)  # lone surrogates too: orjson refuses them
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.floats(min_value=-1e-3, max_value=1e-3) | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=20)


def app() -> Flask:
    made = Flask(__name__)
    made.json = JSONProvider(made)
    return made


APP = app()


@given(st.dictionaries(TEXT, VALUES, max_size=5))
def test_any_document_is_written_as_jsonify_writes_it(document):  # noqa: ANN001
    with APP.app_context():
        fast, slow = json_response(document), jsonify(document)
        assert fast.get_data() == slow.get_data()
        assert fast.headers["Content-Type"] == slow.headers["Content-Type"]


def test_floats_that_orjson_prints_otherwise_are_written_the_old_way():
    with APP.app_context():
        for value in (1e-05, 1.5e-07, -2.5e-5, 9.99e-5, 1e-4, 1e16, 5e-324, 0.30000000000000004):
            body = json_response({"v": [value], "w": {"x": value}}).get_data()
            assert body == (json.dumps({"v": [value], "w": {"x": value}},
                                       separators=(",", ":")) + "\n").encode()


def test_text_that_cannot_be_utf8_is_written_as_before():
    with APP.app_context():
        assert json_response({"a": "\ud800"}).get_data() == jsonify({"a": "\ud800"}).get_data()
