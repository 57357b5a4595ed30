"""`events-api ui` in headless Chromium against `events-api dev`, as a user drives it.

One local stack (the console does not depend on the buffer, so one is enough) and one
console for the module; events are posted over HTTP (the Events API and OTLP), then found
through the page's labelled controls and checked against what was sent: the chart's total
and the Results table, the Events table and an expanded event, a trace's waterfall, live
tail, the browser's back button, and the markup corpus shown as text. With
EVENTS_API_SCREENSHOTS=DIR the explore and trace views are saved there (the README's).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from events_api_cli.defaults import UI_READY_PREFIX
from tests.e2e.conftest import ROOT, DevProcess, DevStack, events_api_command
from tests.otlp_support import PROTOBUF, attribute, string_value
from tests.reliability.hostile import PWNED, markup_corpus

pytestmark = pytest.mark.e2e

WAIT = 30.0
LEVELS = ("info", "warn", "error")
SERVICES = ("checkout", "search")
SCREENSHOTS = os.environ.get("EVENTS_API_SCREENSHOTS")


# ---------------------------------------------------------------- stack, console, browser


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    dev = DevProcess.start("kinesis", tmp_path_factory.mktemp("console-dev"))
    try:
        yield DevStack(dev, "kinesis")
    finally:
        assert dev.terminate() == 0, dev.stderr.read_text(errors="replace")


@pytest.fixture(scope="module")
def console(stack: DevStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`events-api ui --port 0` pointed at the stack; its URL from the ready line."""
    directory = tmp_path_factory.mktemp("console")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}
    env["AWS_ENDPOINT_URL"] = str(stack.dev.ready["awsEndpoint"])
    env["XDG_CACHE_HOME"] = str(directory / "cache")
    with (directory / "stdout").open("wb") as out, (directory / "stderr").open("wb") as err:
        process = subprocess.Popen(
            [*events_api_command(), "ui", "--port", "0"], stdout=out, stderr=err, env=env, cwd=ROOT
        )
    try:
        url = wait_for(
            lambda: (
                next(
                    (
                        json.loads(line[len(UI_READY_PREFIX) :])["url"]
                        for line in (directory / "stdout").read_text().splitlines()
                        if line.startswith(UI_READY_PREFIX)
                    ),
                    None,
                )
                if process.poll() is None
                else pytest.fail((directory / "stderr").read_text())
            ),
            "the console's ready line",
        )
        yield url.rstrip("/")
    finally:
        process.terminate()
        assert process.wait(15) == 0, (directory / "stderr").read_text()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    driver_path, chromium = shutil.which("chromedriver"), shutil.which("chromium")
    if not (driver_path and chromium):
        message = "Debian's chromium and chromium-driver are needed (make browser installs them)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    os.environ["SE_AVOID_STATS"] = "true"  # no usage statistics, no driver downloads
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.add_argument("--window-size=1280,1000")
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(WAIT)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for[T](probe: Callable[[], T | None], what: str, timeout: float = WAIT) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = probe()
        except Exception:  # the page is re-rendering under us: look again
            found = None
        if found:
            return found
        time.sleep(0.2)
    pytest.fail(f"no {what} after {timeout} s")


def by_label(driver: Any, label: str) -> Any:
    """The control whose accessible name is ``label``, as a user (or a screen reader) finds it."""
    from selenium.webdriver.common.by import By

    for element in driver.find_elements(By.CSS_SELECTOR, "input, select, textarea, button"):
        if element.is_displayed() and element.accessible_name.strip() == label:
            return element
    pytest.fail(f"no control labelled {label!r}")


def table(driver: Any, name: str) -> list[list[str]]:
    """The body rows of the table named ``name`` as cell texts (expanded rows left out)."""
    from selenium.webdriver.common.by import By

    [element] = [t for t in driver.find_elements(By.TAG_NAME, "table") if t.accessible_name == name]
    rows = element.find_elements(By.CSS_SELECTOR, "tbody tr:not(.detail)")
    return [[c.text for c in row.find_elements(By.CSS_SELECTOR, "th, td")] for row in rows]


def chart_name(driver: Any) -> str:
    from selenium.webdriver.common.by import By

    chart = driver.find_element(By.ID, "chart")
    assert chart.aria_role == "image"
    return str(chart.accessible_name)


def settled(driver: Any) -> str:
    """The explore view's status once its answer is shown."""
    from selenium.webdriver.common.by import By

    return wait_for(
        lambda: (
            (text := driver.find_element(By.ID, "explore-status").text)
            and " events · " in text
            and text
        ),
        "explore answer",
    )


def open_explore(driver: Any, console: str, query: str) -> None:
    driver.get(f"{console}/?{query}")
    settled(driver)


def run(driver: Any) -> None:
    """Press Run and wait for the new answer."""
    from selenium.webdriver.common.by import By

    status = driver.find_element(By.ID, "explore-status")
    driver.execute_script("arguments[0].textContent = ''", status)
    by_label(driver, "Run").click()
    settled(driver)


def screenshot(driver: Any, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(Path(SCREENSHOTS) / name))


# ---------------------------------------------------------------- data


def sample_events(count: int) -> list[dict[str, Any]]:
    """Spread over the last 50 minutes by their own timestamps (the chart's time)."""
    now = time.time()
    return [
        {
            "timestamp": round((now - 100 * n - 30) * 1000),
            "message": f"event {n}",
            "level": LEVELS[n % 3],
            "service": SERVICES[n % 2],
            "duration": n,
            "requestId": f"req-{n}",
            "data": {"n": n},
        }
        for n in range(count)
    ]


@pytest.fixture(scope="module")
def logs(stack: DevStack) -> tuple[str, list[dict[str, Any]]]:
    dataset = stack.new_dataset()
    sent = sample_events(30)
    assert stack.post_json(dataset, sent).status == 202
    stack.wait_stored(dataset, len(sent))
    return dataset, sent


SPANS = (  # name, span id, parent id, start offset and duration (ms), service
    ("GET /checkout", "a1", None, 0, 240, "frontend"),
    ("load cart", "b1", "a1", 10, 60, "checkout"),
    ("SELECT cart", "c1", "b1", 15, 40, "checkout"),
    ("charge card", "b2", "a1", 80, 150, "payments"),
)


@pytest.fixture(scope="module")
def trace(stack: DevStack) -> tuple[str, str]:
    """A trace of four spans over three services, sent as OTLP protobuf; (dataset, trace id)."""
    dataset = stack.new_dataset()
    trace_id = bytes(range(0x10, 0x20))
    started = time.time_ns() - 60_000_000_000
    request = ExportTraceServiceRequest()
    for name, span_id, parent, offset, duration, service in SPANS:
        resource = request.resource_spans.add()
        resource.resource.attributes.append(attribute("service.name", string_value(service)))
        span = resource.scope_spans.add().spans.add()
        span.trace_id = trace_id
        span.span_id = bytes.fromhex(span_id * 8)
        if parent:
            span.parent_span_id = bytes.fromhex(parent * 8)
        span.name = name
        span.start_time_unix_nano = started + offset * 1_000_000
        span.end_time_unix_nano = span.start_time_unix_nano + duration * 1_000_000
        span.attributes.append(attribute("test.span", string_value(span_id)))
    headers = {"content-type": PROTOBUF, "x-baselime-dataset": dataset}
    answer = stack.request("POST", "/otlp/v1/traces", request.SerializeToString(), headers)
    assert answer.status == 200, answer.body
    stack.wait_stored(dataset, len(SPANS))
    return dataset, trace_id.hex()


def params(driver: Any) -> dict[str, list[str]]:
    return parse_qs(urlsplit(driver.current_url).query)


# ---------------------------------------------------------------- tests


def test_explore_counts_filters_and_searches_what_was_sent(
    browser: Any, console: str, logs: tuple[str, list[dict[str, Any]]]
) -> None:
    dataset, sent = logs
    open_explore(browser, console, f"dataset={dataset}")
    assert chart_name(browser).startswith("Events over time: count per ")
    assert chart_name(browser).endswith(": total 30")
    assert table(browser, "Results") == [["30"]]
    assert sorted(row[4] for row in table(browser, "Events")) == sorted(e["message"] for e in sent)

    # A filter and a search typed into the labelled controls, then Run.
    by_label(browser, "Filter").send_keys("level = error")
    by_label(browser, "Search").send_keys("EVENT 2")
    run(browser)
    expected = [e for e in sent if e["level"] == "error" and "event 2" in e["message"]]
    assert params(browser)["where"] == ["level = error"]
    assert params(browser)["search"] == ["EVENT 2"]
    assert table(browser, "Results") == [[str(len(expected))]]
    assert chart_name(browser).endswith(f": total {len(expected)}")
    assert sorted(row[4] for row in table(browser, "Events")) == sorted(
        e["message"] for e in expected
    )
    filtered = table(browser, "Results")

    # Grouped by service with a second calculation: a row per group, a series per group.
    by_label(browser, "Group by").send_keys("service")
    calculation = by_label(browser, "Calculation")
    calculation.clear()
    calculation.send_keys("count, max(duration)")
    run(browser)
    groups = Counter(e["service"] for e in expected)
    top = {s: max(e["duration"] for e in expected if e["service"] == s) for s in groups}
    assert sorted(table(browser, "Results")) == sorted(
        [s, str(n), str(top[s])] for s, n in groups.items()
    )
    for service, count in groups.items():
        assert f"{service} total {count}" in chart_name(browser)

    # Back returns to the filtered view, forward to the grouped one.
    browser.back()
    wait_for(lambda: "by" not in params(browser) and table(browser, "Results") == filtered, "back")
    assert by_label(browser, "Group by").get_attribute("value") == ""
    browser.forward()
    wait_for(lambda: params(browser).get("by") == ["service"], "forward")
    wait_for(lambda: len(table(browser, "Results")) == len(groups), "grouped results again")


def test_the_query_command_takes_the_same_model_as_options(
    stack: DevStack, logs: tuple[str, list[dict[str, Any]]], tmp_path: Path
) -> None:
    dataset, sent = logs
    done = stack.cli(
        *("query", "--dataset", dataset, "--where", "level != info", "--by", "service"),
        *("--calc", "count", "--calc", "max(duration)", "--format", "ndjson"),
        env={"XDG_CACHE_HOME": str(tmp_path)},
    )
    assert done.returncode == 0, done.stderr
    kept = [e for e in sent if e["level"] != "info"]
    assert sorted(json.loads(line)["service"] for line in done.stdout.splitlines()) == sorted(
        set(SERVICES)
    )
    assert {
        (row["service"], row["count"], row["max(duration)"])
        for row in map(json.loads, done.stdout.splitlines())
    } == {
        (
            s,
            sum(e["service"] == s for e in kept),
            max(e["duration"] for e in kept if e["service"] == s),
        )
        for s in SERVICES
    }
    events = stack.cli(
        *("query", "--dataset", dataset, "--search", "EVENT 1", "--events", "--limit", "3"),
        *("--format", "ndjson"),
        env={"XDG_CACHE_HOME": str(tmp_path)},
    )
    assert events.returncode == 0, events.stderr
    rows = [json.loads(line) for line in events.stdout.splitlines()]
    # Newest first: event 1 is the newest of event 1 and event 10..19 by its own timestamp.
    assert [row["message"] for row in rows] == ["event 1", "event 10", "event 11"]
    assert json.loads(rows[0]["event"])["requestId"] == "req-1"


def test_an_event_expands_to_its_whole_stored_json(
    browser: Any, console: str, stack: DevStack, logs: tuple[str, list[dict[str, Any]]]
) -> None:
    from selenium.webdriver.common.by import By

    dataset, _sent = logs
    open_explore(browser, console, f"dataset={dataset}&where=message%20%3D%20event%207")
    [row] = table(browser, "Events")
    assert row[4] == "event 7"
    expand = browser.find_element(By.CSS_SELECTOR, "#events button.expand")
    assert expand.accessible_name == "Show the whole event"
    expand.click()
    detail = browser.find_element(By.CSS_SELECTOR, "#events tr.detail pre")
    [stored] = [e for e in stack.stored(dataset) if e["message"] == "event 7"]
    assert json.loads(detail.text) == stored
    assert expand.get_attribute("aria-expanded") == "true"


def test_a_trace_opens_from_a_span_as_a_nested_waterfall(
    browser: Any, console: str, trace: tuple[str, str]
) -> None:
    from selenium.webdriver.common.by import By

    dataset, trace_id = trace
    open_explore(browser, console, f"dataset={dataset}&where=name%20%3D%20SELECT%20cart")
    browser.find_element(By.CSS_SELECTOR, "#events a.trace").click()
    wait_for(lambda: urlsplit(browser.current_url).path == f"/trace/{trace_id}", "trace URL")
    spans = wait_for(
        lambda: [
            ul
            for ul in browser.find_elements(By.TAG_NAME, "ul")
            if ul.accessible_name == "Spans" and ul.find_elements(By.CSS_SELECTOR, "li")
        ],
        "the Spans list",
    )[0]
    items = spans.find_elements(By.CSS_SELECTOR, "li")
    names = [li.find_element(By.CSS_SELECTOR, ".span-name").text for li in items]
    assert names == ["GET /checkout", "load cart", "SELECT cart", "charge card"]

    def parent_name(li: Any) -> str | None:
        owner = li.find_element(By.XPATH, "./parent::ul/parent::*")
        return (
            owner.find_element(By.CSS_SELECTOR, ".span-name").text
            if owner.tag_name == "li"
            else None
        )

    parents = {name: parent for name, _id, parent, *_rest in SPANS}
    by_id = {span_id: name for name, span_id, *_rest in SPANS}
    assert [parent_name(li) for li in items] == [
        by_id.get(parents[name]) if parents[name] else None for name in names
    ]
    durations = [li.find_element(By.CSS_SELECTOR, ".duration").text for li in items]
    assert durations == [f"{duration} ms" for *_rest, duration, _service in SPANS]
    assert "3 services" in browser.find_element(By.ID, "trace-status").text

    # A span's attributes on click.
    items[3].find_element(By.CSS_SELECTOR, ".span-name").click()
    shown = json.loads(browser.find_element(By.ID, "span-json").text)
    assert shown["test.span"] == "b2"
    assert shown["_service"] == "payments"
    screenshot(browser, "console-trace.png")


def test_live_tail_shows_a_new_event_as_it_is_stored(
    browser: Any, console: str, stack: DevStack, logs: tuple[str, list[dict[str, Any]]]
) -> None:
    dataset, sent = logs
    open_explore(browser, console, f"dataset={dataset}")
    by_label(browser, "Live tail").click()
    assert (
        stack.post_json(dataset, [{"message": "arrived while tailing", "level": "info"}]).status
        == 202
    )
    wait_for(lambda: table(browser, "Events")[0][4] == "arrived while tailing", "the new event", 60)
    assert len(table(browser, "Events")) == len(sent) + 1
    by_label(browser, "Live tail").click()


def test_hostile_event_content_is_shown_as_text_never_run(
    browser: Any, console: str, stack: DevStack
) -> None:
    from selenium.webdriver.common.by import By

    dataset = stack.new_dataset()
    cases = list(markup_corpus())
    for case in cases:
        headers = {
            "content-type": "application/json",
            **{k: v for k, v in case.headers.items() if v},
        }
        assert stack.request("POST", f"/v1/{dataset}", case.body, headers).status == 202, case.name
    stack.wait_stored(dataset, len(cases))
    open_explore(browser, console, f"dataset={dataset}&by=service")
    assert len(table(browser, "Events")) == len(cases)
    for button in browser.find_elements(By.CSS_SELECTOR, "#events button.expand"):
        button.click()
    for link in browser.find_elements(By.CSS_SELECTOR, "#events a"):
        href = urlsplit(link.get_attribute("href"))
        assert (href.scheme, href.netloc) == ("http", urlsplit(console).netloc)
        assert href.path.startswith("/trace/")
    page = browser.find_element(By.TAG_NAME, "main")
    assert browser.execute_script(f"return window.{PWNED}") is None
    # Nothing from the events became an element: only the page's own markup is there.
    assert page.find_elements(By.CSS_SELECTOR, "img, script, svg, style, iframe, object") == []
    text = page.text
    assert "<script>window.__pwned=1</script>" in text
    assert "<img src=x onerror=window.__pwned=1>" in text  # the hostile x-service label
    assert "javascript:window.__pwned=1" in text
    assert "W" * 200 in text
    # Long values wrap: the page never grows wider than the window.
    assert browser.execute_script(
        "return document.documentElement.scrollWidth <= window.innerWidth + 1"
    )
    # A trace id that is a script URL opens nothing but a (refused) trace view.
    browser.find_element(By.CSS_SELECTOR, "#events a.trace").click()
    wait_for(lambda: "Error:" in browser.find_element(By.ID, "trace-status").text, "refusal")
    assert browser.execute_script(f"return window.{PWNED}") is None


def test_an_hour_of_traffic_grouped_by_service_matches_what_was_sent(
    browser: Any, console: str, stack: DevStack
) -> None:
    """2,400 events over the last hour from four services (the README's picture)."""
    dataset = stack.new_dataset()
    rng = random.Random(20261203)
    now = time.time()
    services = ("checkout", "search", "payments", "auth")
    sent = [
        {
            "timestamp": round((now - 3570 * n / 2400 - 20) * 1000),
            "service": rng.choices(services, weights=(5, 3, 2, 1))[0],
            "level": rng.choices(LEVELS, weights=(20, 3, 1))[0],
            "duration": round(rng.lognormvariate(3.5, 0.8), 1),
            "message": f"request {n}",
        }
        for n in range(2400)
    ]
    assert stack.post_json(dataset, sent, gzipped=True).status == 202
    stack.wait_stored(dataset, len(sent))
    open_explore(browser, console, f"dataset={dataset}&by=service&calc=count,p95(duration)")
    counts = Counter(e["service"] for e in sent)
    assert [row[:2] for row in table(browser, "Results")] == [
        [service, str(count)] for service, count in counts.most_common()
    ]
    for service, count in counts.items():
        assert f"{service} total {count}" in chart_name(browser)
    screenshot(browser, "console-explore.png")
