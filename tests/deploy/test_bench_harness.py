"""The benchmark harness's own parsing: wrk output, HTML forms, the floor app (no servers started)."""
from __future__ import annotations

from bench.common import FormClient, _FormParser, parse_wrk, percentile, table

WRK_OUTPUT = """Running 2s test @ http://127.0.0.1:8080/
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.10ms    2.20ms  40.00ms   87.50%
    Req/Sec    10.00k     1.00k   12.00k    75.50%
  Latency Distribution
     50%  384.00us
     75%  800.00us
     90%    1.50ms
     99%   12.34ms
  40000 requests in 2.00s, 500.00MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:  20000.50
Transfer/sec:    250.00MB
"""


def test_parse_wrk_reads_the_latency_distribution_not_the_stdev_columns():
    result = parse_wrk(WRK_OUTPUT)
    assert result["rps"] == 20000.50
    assert result["p50"] == 0.384
    assert result["p99"] == 12.34
    assert result["errors"] == 7


def test_percentile_and_table():
    assert percentile(range(1, 101), 99) == 99
    assert percentile([5], 50) == 5
    text = table(["a", "b"], [[1, 2.5], ["x", float("nan")]])
    assert "| x | n/a  |" in text


FORM = """<form method="get"><input name="q"></form>
<form method="post" action="/contact">
  <input type="hidden" name="csrf_token" value="tok">
  <input type="hidden" name="form_ts" value="ts">
  <input name="name"><input name="website">
  <select name="topic"><option value="">Choose</option><option value="cloud">Cloud</option></select>
  <textarea name="message"></textarea>
  <input type="checkbox" name="consent" value="y">
  <button type="submit">Send</button>
</form>"""


def test_form_parser_keeps_hidden_values_and_finds_the_first_real_option():
    form = _FormParser(FORM)
    assert form.fields["csrf_token"] == "tok"
    assert form.kinds["consent"] == "checkbox"
    assert form.options["topic"] == ["", "cloud"]
    assert "q" not in form.fields


def test_form_client_submits_hidden_fields_and_given_values(monkeypatch):
    client = FormClient(1)
    client.form = _FormParser(FORM)
    sent = {}
    monkeypatch.setattr(client, "request", lambda method, path, body=None: sent.update(body=body) or (303, {}, b""))
    assert client.submit("/contact", {"name": "Ann", "consent": "y"}) == (303, b"")
    assert sent["body"] == b"csrf_token=tok&form_ts=ts&name=Ann&website=&topic=cloud&message=&consent=y"


def test_floor_app_returns_the_pre_rendered_bytes(tmp_path, monkeypatch):
    import importlib

    (tmp_path / "home.html").write_bytes(b"<p>home</p>")
    (tmp_path / "pages.tsv").write_text("/\thome.html\n")
    monkeypatch.setenv("BENCH_FLOOR_DIR", str(tmp_path))
    import bench.floor

    floor = importlib.reload(bench.floor)
    response = floor.app.test_client().get("/")
    assert response.data == b"<p>home</p>"
    assert response.content_type == "text/html; charset=utf-8"
