"""The shared cache the http-caching kata grades through: hishel 2.0 over httpx, as
configured in katas/http_caching/world.py. Before trusting it to judge learners, each
rule a shared cache must follow is checked here against RFC 9111, clause by clause —
and the one place the kata deliberately keeps variants apart (§4.1) is pinned down.

Every test: Given an origin answering with some headers, When two clients ask through
the cache, Then the second is (or is not) answered from the cache."""

from __future__ import annotations

import itertools
from contextlib import ExitStack
from email.utils import formatdate

import hishel
import httpx
import pytest
from hishel.httpx import CacheTransport

from perfkata.katas.http_caching.world import SharedEntry, StreamClock, Tally, store, stream_time

NOW = 1_800_000_000


@pytest.fixture
def cache():
    """A shared (or private) cache over a counting origin that says what it is given."""
    made = []

    def build(headers, shared=True, status=200):
        calls = itertools.count(1)
        clock = StreamClock(NOW)

        def origin(request):
            n = next(calls)
            given = {"Date": formatdate(clock.now, usegmt=True), **headers}
            lang = request.headers.get("accept-language", "")
            return httpx.Response(status, headers=given, content=f"{n}:{lang}".encode())

        stack = ExitStack()
        made.append(stack)
        storage = store(stack)
        options = hishel.CacheOptions(shared=shared)
        inner = CacheTransport(httpx.MockTransport(origin), storage=storage, rfc=options)
        tally = Tally()
        entry = SharedEntry(inner, storage, lambda: tally)
        stack.enter_context(stream_time(clock))
        client = httpx.Client(transport=entry, base_url="http://shop.test")
        stack.callback(client.close)

        def get(path="/p", **headers):
            return client.get(path, headers=headers).text

        return get, clock

    yield build
    for stack in made:
        stack.close()


def test_s3_a_public_response_with_max_age_is_stored_and_reused(cache):
    get, _ = cache({"Cache-Control": "public, max-age=60"})
    assert [get(), get()] == ["1:", "1:"]


def test_s3_no_store_is_never_stored(cache):
    # RFC 9111 §3 ("the no-store cache directive is not present in the response")
    get, _ = cache({"Cache-Control": "no-store, max-age=60"})
    assert [get(), get()] == ["1:", "2:"]


def test_s5_2_2_7_private_is_not_stored_by_a_shared_cache(cache):
    # §5.2.2.7 private: "a shared cache MUST NOT store the response"
    get, _ = cache({"Cache-Control": "private, max-age=60"})
    assert [get(), get()] == ["1:", "2:"]


def test_s5_2_2_7_private_is_stored_by_a_private_cache(cache):
    get, _ = cache({"Cache-Control": "private, max-age=60"}, shared=False)
    assert [get(), get()] == ["1:", "1:"]


def test_s3_5_authorization_without_public_is_not_stored_by_a_shared_cache(cache):
    # §3.5: not stored for a request with Authorization unless public/s-maxage/must-revalidate
    get, _ = cache({"Cache-Control": "max-age=60"})
    assert [get(Authorization="Bearer a"), get(Authorization="Bearer b")] == ["1:", "2:"]


def test_s3_5_authorization_with_public_is_stored_and_served_to_anyone(cache):
    get, _ = cache({"Cache-Control": "public, max-age=60"})
    assert [get(Authorization="Bearer a"), get(Authorization="Bearer b")] == ["1:", "1:"]


def test_s5_2_2_10_s_maxage_overrides_max_age_in_a_shared_cache(cache):
    # §5.2.2.10 s-maxage: "for a shared cache, the maximum age specified by this
    # directive overrides the maximum age specified by either max-age or Expires"
    get, clock = cache({"Cache-Control": "public, max-age=0, s-maxage=60"})
    first = get()
    clock.now += 30
    assert [first, get()] == ["1:", "1:"]
    clock.now += 31
    assert get() == "2:"


def test_s5_2_2_10_s_maxage_is_ignored_by_a_private_cache(cache):
    get, _ = cache({"Cache-Control": "max-age=0, s-maxage=60"}, shared=False)
    assert [get(), get()] == ["1:", "2:"]


def test_s4_2_max_age_expires_on_the_stream_clock(cache):
    # §4.2: fresh while current_age < freshness_lifetime (age from Date, §4.2.3)
    get, clock = cache({"Cache-Control": "public, max-age=60"})
    get()
    clock.now += 59
    assert get() == "1:"
    clock.now += 2
    assert get() == "2:"


def test_s4_1_vary_keeps_variants_apart(cache):
    # §4.1: a stored response is used only when the Vary'd request headers match
    get, _ = cache({"Cache-Control": "public, max-age=60", "Vary": "Accept-Language"})
    en, de = get(**{"Accept-Language": "en"}), get(**{"Accept-Language": "de"})
    assert [en, de, get(**{"Accept-Language": "en"})] == ["1:en", "2:de", "1:en"]


def test_s4_1_without_vary_one_variant_is_served_to_all(cache):
    # the missing-Vary fault the kata grades: the cache may not know the page varies
    get, _ = cache({"Cache-Control": "public, max-age=60"})
    assert [get(**{"Accept-Language": "de"}), get(**{"Accept-Language": "en"})] == ["1:de", "1:de"]


def test_s4_1_a_non_matching_variant_is_not_revalidated_by_date(cache):
    # §4.1 allows forwarding a non-matching request with or without the stored
    # response's validators; the kata's shared cache forwards it without, so a 304 to
    # If-Modified-Since can never confirm another language's copy (world.VariantStorage)
    headers = {
        "Cache-Control": "public, max-age=0",
        "Vary": "Accept-Language",
        "Last-Modified": formatdate(NOW - 100, usegmt=True),
    }
    get, _ = cache(headers)
    assert get(**{"Accept-Language": "de"}) == "1:de"
    assert get(**{"Accept-Language": "en"}) == "2:en"


def test_s5_2_2_4_no_cache_is_stored_but_revalidated_each_time(cache):
    # §5.2.2.4 no-cache: "MUST NOT be used to satisfy any other request without
    # forwarding it for validation"
    get, _ = cache({"Cache-Control": "public, no-cache", "ETag": '"a"'})
    assert [get(), get()] == ["1:", "2:"]


def test_s4_3_a_stale_entry_with_an_etag_is_revalidated_with_if_none_match():
    # §4.3.1: the cache sends If-None-Match with the stored ETag; a 304 freshens it (§4.3.4)
    seen = []
    clock = StreamClock(NOW)

    def origin(request):
        seen.append(request.headers.get("if-none-match"))
        head = {"Date": formatdate(clock.now, usegmt=True), "ETag": '"v1"'}
        head["Cache-Control"] = "public, max-age=10"
        if request.headers.get("if-none-match") == '"v1"':
            return httpx.Response(304, headers=head)
        return httpx.Response(200, headers=head, content=b"body")

    with ExitStack() as stack:
        storage = store(stack)
        options = hishel.CacheOptions(shared=True)
        transport = CacheTransport(httpx.MockTransport(origin), storage=storage, rfc=options)
        stack.enter_context(stream_time(clock))
        client = stack.enter_context(httpx.Client(transport=transport))
        first = client.get("http://shop.test/p").text
        clock.now += 11
        second = client.get("http://shop.test/p")
    assert (first, second.status_code, second.text) == ("body", 200, "body")
    assert seen == [None, '"v1"']
