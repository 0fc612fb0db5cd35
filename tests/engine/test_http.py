"""The engine's view of a WSGI request (realtime/engine/http.py): its query
parameters against urllib's, its headers by HTTP name."""

from __future__ import annotations

from urllib.parse import parse_qs

from hypothesis import example, given, settings
from hypothesis import strategies as st

from realtime.engine.http import Request, _parse_query

#: Query strings made of the characters that matter to the parser.
QUERIES = st.text(alphabet="ab0=&%+;2F", max_size=16) | st.sampled_from(
    ["EIO=4&transport=polling&t=PzX1a2b", "EIO=4&transport=websocket&sid=ab-C_d"]
)


@settings(max_examples=500, deadline=None)
@given(QUERIES)
@example("a=1&&b&=x&a=2&c=d=e")
@example("x=%41+b")
def test_query_parameters_are_urllibs(query: str) -> None:
    expected = {key: values[0] for key, values in parse_qs(query, keep_blank_values=True).items()}
    assert _parse_query(query) == expected
    assert Request({"QUERY_STRING": query}).query == expected


def test_headers_by_their_http_names() -> None:
    request = Request(
        {
            "HTTP_ORIGIN": "http://a",
            "HTTP_X_CUSTOM_THING": "1",
            "CONTENT_TYPE": "text/plain",
            "CONTENT_LENGTH": "5",
            "REQUEST_METHOD": "post",
        }
    )
    assert request.header("Origin") == "http://a"
    assert request.header("x-custom-thing") == "1"
    assert request.header("Content-Type") == "text/plain"
    assert request.header("content-length") == "5"
    assert request.header("Upgrade") is None
    assert request.method == "POST"
    assert Request({}).method == "GET"
