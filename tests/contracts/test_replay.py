"""The replay server itself: recorded status, headers and body, origins rewritten, routes chosen by query."""

from __future__ import annotations

import json

import requests

from tests.contracts.replay import ReplayServer, json_response, recording


def test_serves_recording_with_origin_rewritten_in_body_and_link_header(tmp_path):
    (tmp_path / "page.json").write_text(json.dumps([{"url": "https://api.example.com/items/1"}]))
    link = '<https://api.example.com/items?page=2>; rel="next"'
    headers = {"status": 200, "headers": [["Content-Type", "application/json"], ["Link", link], ["ETag", '"abc"']]}
    (tmp_path / "page.headers.json").write_text(json.dumps(headers))
    with ReplayServer(origins=["https://api.example.com"]) as server:
        server.route("/items", recording(tmp_path, "page"))
        response = requests.get(f"{server.base_url}/items", timeout=5)
    assert response.status_code == 200
    assert response.json() == [{"url": f"{server.base_url}/items/1"}]
    assert response.links["next"]["url"] == f"{server.base_url}/items?page=2"
    assert response.headers["ETag"] == '"abc"'


def test_most_specific_query_wins_and_misses_are_listed():
    with ReplayServer() as server:
        server.route("/items", json_response(200, ["first"]))
        server.route("/items", json_response(200, ["second"]), query={"page": "2"})
        first = requests.get(f"{server.base_url}/items", params={"state": "all"}, timeout=5).json()
        second = requests.get(f"{server.base_url}/items", params={"page": "2", "state": "all"}, timeout=5).json()
        missing = requests.get(f"{server.base_url}/other", timeout=5)
    assert (first, second) == (["first"], ["second"])
    assert missing.status_code == 404
    assert [request.path for request in server.unanswered] == ["/other"]
    assert server.paths_requested() == ["/items?state=all", "/items?page=2&state=all", "/other"]


def test_recording_without_headers_file_is_plain_json(tmp_path):
    (tmp_path / "body.json").write_text('{"a": 1}')
    recorded = recording(tmp_path, "body")
    assert (recorded.status, recorded.header("content-type"), recorded.json()) == (200, "application/json", {"a": 1})


def test_answers_304_when_the_request_names_the_recorded_etag():
    with ReplayServer() as server:
        server.route("/items", json_response(200, ["item"], [("ETag", 'W/"v1"')]))
        fresh = requests.get(f"{server.base_url}/items", headers={"If-None-Match": 'W/"v0"'}, timeout=5)
        cached = requests.get(f"{server.base_url}/items", headers={"If-None-Match": 'W/"v1"'}, timeout=5)
    assert (fresh.status_code, fresh.json()) == (200, ["item"])
    assert (cached.status_code, cached.content, cached.headers["ETag"]) == (304, b"", 'W/"v1"')
