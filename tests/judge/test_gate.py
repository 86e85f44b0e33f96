"""The endpoint concurrency gate: real HTTP to the loopback fake server, counted by the server.

Stays away from: any host but 127.0.0.1, wall-clock assertions (bench/bench_evaluate.py
measures throughput; a join timeout here only turns a leaked slot into a failure instead of a
hang), and litellm internals (the gate is checked through what the server and the gate count).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import dspy
import httpx
import litellm
import pytest

from judge import gate
from judge.lm import CallBudget, build_lm
from judge.program import RelevanceJudge
from judge.scale import Scale
from judge.types import JudgeExample
from judgeflow.errors import InputError
from tasks.evaluate import evaluate_program
from tasks.evaluation.engine import worker_plan
from tests.fakes.fixtures import fake_lm_config
from tests.fakes.openai_server import FakeOpenAIServer, Reply, server_error, valid_answer

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

CHAT = {"model": "fake-judge", "messages": [{"role": "user", "content": "rate this"}]}


@pytest.fixture(autouse=True)
def _no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a proxy in the environment the gate stays out of the way (see gate.install)."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(log_path=tmp_path / "llm_requests.jsonl") as fake:
        yield fake


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    """A client on the gated transport, independent of what is installed into litellm."""
    with httpx.Client(transport=gate.GatedTransport(httpx.HTTPTransport())) as gated:
        yield gated


def examples(n: int) -> list[JudgeExample]:
    return [JudgeExample(id=f"g-{i}", query=f"query {i}", document=f"document {i}", gold=1 + i % 5) for i in range(n)]


def in_threads(n: int, work: Callable[[int], object]) -> list[object]:
    """Run ``work(i)`` in ``n`` threads at once; fail (rather than hang) if one never returns."""
    results: list[object] = [None] * n

    def run(i: int) -> None:
        try:
            results[i] = work(i)
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(t.is_alive() for t in threads), "a request never finished: a gate slot leaked"
    return results


def post(client: httpx.Client, server: FakeOpenAIServer) -> int:
    return client.post(f"{server.api_base}/chat/completions", json=CHAT).status_code


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def test_an_evaluation_never_has_more_requests_in_flight_than_its_concurrency(server, con) -> None:
    server.latency = 0.3
    cfg = fake_lm_config(server)
    threads, gated = worker_plan(build_lm(cfg), 3)
    assert (threads, gated) == (5, server.api_base)  # more threads than slots: only the gate caps
    result = evaluate_program(RelevanceJudge(), examples(20), cfg, scale=Scale(), con=con, concurrency=3, progress=False)
    assert [o.status for o in result.outputs] == ["ok"] * 20 and server.calls == 20
    assert server.max_in_flight == 3  # never above the cap, and the cap is reached
    assert gate.limit_for(server.api_base) is None and gate.in_flight(server.api_base) == 0


def test_a_dspy_call_through_litellm_holds_a_gate_slot_until_its_answer_is_read(server) -> None:
    arrived, answered = threading.Event(), threading.Event()

    def slow(_request: dict) -> Reply:
        arrived.set()
        answered.wait(10)
        return valid_answer(4)

    server.set_responder(slow)
    lm = build_lm(fake_lm_config(server))
    with gate.endpoint_limit(server.api_base, 2):
        worker = threading.Thread(target=lambda: lm(messages=[{"role": "user", "content": "hi"}]), daemon=True)
        worker.start()
        assert arrived.wait(10), "the request never reached the server"
        seen = gate.in_flight(server.api_base)
        answered.set()
        worker.join(timeout=30)
    assert not worker.is_alive()
    assert seen == 1  # litellm's OpenAI SDK client sent it through the installed gated session
    assert gate.in_flight(server.api_base) == 0


def test_a_limit_of_one_serialises_requests(server, client) -> None:
    server.latency = 0.1
    with gate.endpoint_limit(server.api_base, 1):
        statuses = in_threads(5, lambda _i: post(client, server))
    assert statuses == [200] * 5 and server.calls == 5
    assert server.max_in_flight == 1


def test_endpoints_without_a_limit_are_not_gated(server, client) -> None:
    together = threading.Barrier(4, timeout=10)  # answers only once all 4 requests are at the server

    def wait_for_all(_request: dict) -> Reply:
        together.wait()
        return valid_answer(4)

    server.set_responder(wait_for_all)
    with gate.endpoint_limit(closed_port_url(), 1):  # another endpoint's limit does not apply here
        statuses = in_threads(4, lambda _i: post(client, server))
    assert statuses == [200] * 4  # a gated request would have broken the barrier: a 500
    assert gate.in_flight(server.api_base) == 0


def test_a_refused_connection_gives_its_slot_back(client) -> None:
    url = closed_port_url()
    with gate.endpoint_limit(url, 1):
        errors = in_threads(1, lambda _i: [type(_post_error(client, url)) for _ in range(3)])
    assert errors == [[httpx.ConnectError] * 3]
    assert gate.in_flight(url) == 0


def _post_error(client: httpx.Client, url: str) -> Exception | None:
    try:
        client.post(f"{url}/chat/completions", json=CHAT)
    except httpx.HTTPError as exc:
        return exc
    return None


def test_an_error_answer_gives_its_slot_back(server, client) -> None:
    server.set_responder(server_error(500))
    with gate.endpoint_limit(server.api_base, 1):
        statuses = in_threads(1, lambda _i: [post(client, server) for _ in range(3)])
        assert gate.in_flight(server.api_base) == 0
        server.set_responder(valid_answer(4))
        assert in_threads(3, lambda _i: post(client, server)) == [200] * 3
    assert statuses == [[500] * 3] and server.calls == 6


def test_a_streamed_response_holds_its_slot_until_it_is_closed(server, client) -> None:
    with gate.endpoint_limit(server.api_base, 1):
        with client.stream("POST", f"{server.api_base}/chat/completions", json=CHAT) as response:
            assert response.status_code == 200
            assert gate.in_flight(server.api_base) == 1  # body not read yet
        assert gate.in_flight(server.api_base) == 0
        assert post(client, server) == 200


def test_nested_limits_keep_the_smallest_and_unwind(server) -> None:
    assert gate.limit_for(server.api_base) is None
    with gate.endpoint_limit(server.api_base, 3):
        with gate.endpoint_limit(f"{server.url}/other/path", 1):  # same endpoint, other path
            assert gate.limit_for(server.api_base) == 1
        assert gate.limit_for(server.api_base) == 3
    assert gate.limit_for(server.api_base) is None


@pytest.mark.parametrize("limit", [0, -1, 1.5, True])
def test_a_limit_must_be_a_positive_integer(server, limit) -> None:
    with pytest.raises(InputError, match="positive integer"), gate.endpoint_limit(server.api_base, limit):
        pass


def test_install_is_idempotent_and_routes_litellm_through_the_gate(server) -> None:
    assert gate.install() and gate.install()
    session = litellm.client_session
    assert gate.install() and litellm.client_session is session
    with gate.endpoint_limit(server.api_base, 1):
        with session.stream("POST", f"{server.api_base}/chat/completions", json=CHAT):
            assert gate.in_flight(server.api_base) == 1
    assert gate.in_flight(server.api_base) == 0


def test_someone_elses_client_session_is_left_alone_and_the_engine_keeps_one_thread_per_slot(
    server, monkeypatch
) -> None:
    lm = build_lm(fake_lm_config(server))
    foreign = httpx.Client()
    monkeypatch.setattr(litellm, "client_session", foreign)
    assert gate.install() is False and litellm.client_session is foreign
    assert worker_plan(lm, 4) == (4, None)
    foreign.close()


def test_lms_that_do_not_use_litellms_openai_client_are_not_gated(server) -> None:
    anthropic = dspy.LM("anthropic/claude-3-5-haiku-latest", engine="litellm", api_base=server.api_base, api_key="x")
    native = dspy.LM("openai/fake-judge", engine="lm15", api_base=server.api_base, api_key="x")
    hosted = dspy.LM("openai/gpt-4o-mini", engine="litellm", api_key="x")  # no api_base
    assert worker_plan(anthropic, 4) == worker_plan(native, 4) == worker_plan(hosted, 4) == (4, None)
    assert worker_plan(build_lm(fake_lm_config(server)), 4) == (6, server.api_base)


def test_an_lm_with_a_call_budget_keeps_one_thread_per_slot(server) -> None:
    assert worker_plan(build_lm(fake_lm_config(server), budget=CallBudget(10)), 4) == (4, None)


def test_a_stored_latency_leaves_out_the_wait_for_a_gate_slot(server, con) -> None:
    server.latency = 0.25
    cfg = fake_lm_config(server)
    # A process's first calls pay litellm's one-off set-up (~0.6 s here); that is not queueing.
    evaluate_program(RelevanceJudge(), examples(3), cfg, scale=Scale(), con=con, concurrency=3, progress=False)
    fresh = [JudgeExample(id=f"w-{i}", query=f"other query {i}", document=f"other document {i}", gold=3) for i in range(6)]
    started = time.perf_counter()
    result = evaluate_program(RelevanceJudge(), fresh, cfg, scale=Scale(), con=con, concurrency=1, progress=False)
    assert time.perf_counter() - started >= 6 * 0.25  # one slot: the examples queued for it
    latencies = [row[0] for row in con.execute(
        "SELECT latency_s FROM predictions WHERE run_id = $run", {"run": result.run_id}).fetchall()]
    assert len(latencies) == 6
    assert all(0.25 <= s < 0.5 for s in latencies), latencies  # queued, they would reach 0.5-1.5 s
