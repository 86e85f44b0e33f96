"""The LM client through the real path (dspy -> litellm -> loopback fake server).

Stays away from: hosted providers and the network beyond 127.0.0.1, the Prefect API (the
Secret block lookup is passed in as a fake loader), and the judge program (see
tests/tasks/test_evaluate.py for the engine).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import dspy
import pytest

from judge.lm import (
    NO_KEY,
    BudgetExhausted,
    CallBudget,
    build_lm,
    lm_identity,
    resolve_api_key,
    track_usage,
)
from judge.program import RelevanceJudge, judge_one
from judge.scale import Scale
from judge.types import JudgeExample
from judgeflow.config import LMConfig
from judgeflow.errors import InputError
from tests.fakes.fixtures import fake_lm_config
from tests.fakes.openai_server import FakeOpenAIServer, answer, server_error

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def fake_llm(tmp_path: Path) -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(log_path=tmp_path / "llm_requests.jsonl") as server:
        yield server


def test_build_lm_sends_max_tokens_and_temperature_through_litellm(fake_llm: FakeOpenAIServer) -> None:
    lm = build_lm(fake_lm_config(fake_llm, max_tokens=77, temperature=0.3), role="judge-a")
    assert lm("hello") == ['{"rating": 4, "explanation": "The document answers the query."}']
    sent = fake_llm.chat_requests[-1].json
    assert sent["max_tokens"] == 77
    assert "max_completion_tokens" not in sent  # litellm's spelling, not dspy's native client's
    assert sent["temperature"] == 0.3
    assert lm.engine == "litellm" and lm.num_retries == 0 and lm.cache is False


def test_api_key_comes_from_the_named_env_var_and_reaches_only_the_endpoint(
    fake_llm: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JF_TEST_KEY", "sk-secret-123")
    cfg = fake_lm_config(fake_llm, api_key_env="JF_TEST_KEY")
    build_lm(cfg)("hi")
    assert fake_llm.chat_requests[-1].headers.get("Authorization") == "Bearer sk-secret-123"
    assert "sk-secret-123" not in lm_identity(cfg)


def test_api_key_falls_back_to_the_prefect_secret_block_named_after_the_env_var(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("JF_MISSING_KEY", raising=False)
    asked: list[str] = []

    def loader(name: str) -> str | None:
        asked.append(name)
        return "sk-from-block"

    cfg = LMConfig(model="openai/gpt-4o-mini", local=False, api_key_env="JF_MISSING_KEY")
    assert resolve_api_key(cfg, secret_loader=loader) == "sk-from-block"
    assert asked == ["jf-missing-key"]


def test_a_missing_key_for_a_remote_endpoint_names_the_env_var_and_the_block() -> None:
    cfg = LMConfig(model="openai/gpt-4o-mini", local=False, api_key_env="JF_MISSING_KEY")
    with pytest.raises(InputError, match=r"JF_MISSING_KEY.*'jf-missing-key'"):
        resolve_api_key(cfg, secret_loader=lambda name: None)


def test_local_endpoints_need_no_key() -> None:
    local = LMConfig(api_base="http://127.0.0.1:8765/v1")
    assert resolve_api_key(local, secret_loader=lambda name: None) == NO_KEY
    hosted = LMConfig(model="openai/gpt-4o-mini", local=False)
    assert resolve_api_key(hosted, secret_loader=lambda name: None) is None  # litellm reads OPENAI_API_KEY


def test_the_local_model_without_an_api_base_is_refused_with_the_way_to_start_it() -> None:
    with pytest.raises(InputError, match="judgeflow lm serve"):
        build_lm(LMConfig())


def test_lm_identity_names_endpoint_and_decoding_but_not_timeouts() -> None:
    a = LMConfig(model="openai/m", api_base="http://127.0.0.1:1/v1/", local=False)
    assert lm_identity(a) == lm_identity(a.model_copy(update={"api_base": "http://127.0.0.1:1/v1"}))
    assert lm_identity(a) != lm_identity(a.model_copy(update={"api_base": "http://127.0.0.1:2/v1"}))
    assert lm_identity(a) != lm_identity(a.model_copy(update={"temperature": 0.5}))
    assert lm_identity(a) != lm_identity(a.model_copy(update={"max_tokens": 99}))
    assert lm_identity(a) == lm_identity(a.model_copy(update={"timeout_s": 1.0, "concurrency": 9}))
    assert lm_identity(a) != lm_identity(a.model_copy(update={"constrained_json": True}))


def test_calls_tokens_and_failures_are_counted_per_role(fake_llm: FakeOpenAIServer) -> None:
    fake_llm.set_responder(answer("ok", prompt_tokens=11, completion_tokens=3))
    lm = build_lm(fake_lm_config(fake_llm), role="meter-test")
    lm.meter.reset()
    lm("a")
    lm("b")
    fake_llm.set_responder(server_error())
    with pytest.raises(Exception, match="InternalServerError"):
        lm("c")
    usage = lm.meter.snapshot()
    assert (usage.calls, usage.failed_calls) == (3, 1) == (fake_llm.calls, 1)
    assert (usage.prompt_tokens, usage.completion_tokens) == (22, 6)
    assert usage.cost is None  # "fake-judge" is not in litellm's price map


def test_cost_comes_from_litellms_local_price_map_when_the_model_is_known(fake_llm: FakeOpenAIServer) -> None:
    import litellm

    fake_llm.set_responder(answer("ok", prompt_tokens=1000, completion_tokens=100))
    lm = build_lm(fake_lm_config(fake_llm, model="openai/gpt-4o-mini"), role="cost-test")
    with track_usage() as usage:
        lm("a")
    expected = sum(litellm.cost_per_token(model="openai/gpt-4o-mini", prompt_tokens=1000, completion_tokens=100))
    assert usage.cost == pytest.approx(expected) and usage.cost > 0


def test_the_local_model_costs_nothing_rather_than_unknown(fake_llm: FakeOpenAIServer) -> None:
    cfg = LMConfig(api_base=fake_llm.api_base, local=True, timeout_s=5.0)
    with track_usage() as usage:
        build_lm(cfg)("a")
    assert usage.cost == 0.0 and usage.calls == 1


def test_a_call_budget_stops_the_call_before_it_reaches_the_endpoint(fake_llm: FakeOpenAIServer) -> None:
    budget = CallBudget(3)
    lm = build_lm(fake_lm_config(fake_llm), budget=budget)
    copy = lm.copy()  # copies (judge_one runs on one) share the budget
    lm("1")
    copy("2")
    lm("3")
    with pytest.raises(BudgetExhausted, match="budget of 3 calls"):
        copy("4")
    assert fake_llm.calls == 3 and budget.remaining == 0


def test_a_budget_must_be_a_non_negative_integer() -> None:
    with pytest.raises(InputError, match="-1"):
        CallBudget(-1)


def test_meter_and_budget_count_exactly_under_concurrent_calls(fake_llm: FakeOpenAIServer) -> None:
    budget = CallBudget(150)
    lm = build_lm(fake_lm_config(fake_llm), role="threads-test", budget=budget)
    lm.meter.reset()
    refused: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(25):
            try:
                lm("x")
            except BudgetExhausted:
                with lock:
                    refused.append(1)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert fake_llm.calls == 150 == lm.meter.snapshot().calls
    assert len(refused) == 200 - 150


def test_per_example_usage_sees_only_its_own_thread(fake_llm: FakeOpenAIServer) -> None:
    lm = build_lm(fake_lm_config(fake_llm))
    seen: dict[int, int] = {}

    def worker(n: int) -> None:
        with track_usage() as usage:
            for _ in range(n):
                lm("x")
        seen[n] = usage.calls

    threads = [threading.Thread(target=worker, args=(n,)) for n in (1, 2, 3, 4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {1: 1, 2: 2, 3: 3, 4: 4}



def test_the_local_model_gets_the_instruction_in_the_user_turn_because_its_chat_format_drops_system(
    fake_llm: FakeOpenAIServer,
) -> None:
    local = LMConfig(api_base=fake_llm.api_base, local=True, timeout_s=5.0)
    build_lm(local)(messages=[{"role": "system", "content": "RULES"}, {"role": "user", "content": "QUESTION"}])
    sent = fake_llm.chat_requests[-1].json["messages"]
    assert sent == [{"role": "user", "content": "RULES\n\nQUESTION"}]
    build_lm(fake_lm_config(fake_llm))(messages=[{"role": "system", "content": "RULES"}, {"role": "user", "content": "Q"}])
    assert [m["role"] for m in fake_llm.chat_requests[-1].json["messages"]] == ["system", "user"]
    assert lm_identity(local) != lm_identity(local.model_copy(update={"local": False}))


@pytest.mark.parametrize("variant", ["predict", "cot"])
def test_constrained_json_sends_the_answer_schema_in_the_shape_each_server_reads(
    fake_llm: FakeOpenAIServer, variant: str
) -> None:
    example = JudgeExample(id="e", query="vpn reset", document="How to reset the VPN token.")
    fields = ["reasoning", "rating", "explanation"] if variant == "cot" else ["rating", "explanation"]
    judge = RelevanceJudge(scale=Scale.parse("0-3"), variant=variant)

    def judge_with(cfg: LMConfig) -> dict:
        with dspy.context(lm=build_lm(cfg)):
            judge_one(judge, example)
        return fake_llm.chat_requests[-1].json

    assert "response_format" not in judge_with(fake_lm_config(fake_llm))  # off by default: failures stay measured

    sent = judge_with(fake_lm_config(fake_llm, constrained_json=True))["response_format"]
    assert sent["type"] == "json_schema" and sent["json_schema"]["strict"] is True
    schema = sent["json_schema"]["schema"]
    assert list(schema["properties"]) == schema["required"] == fields
    assert schema["properties"]["rating"] == {"type": "integer", "minimum": 0, "maximum": 3}

    local = LMConfig(api_base=fake_llm.api_base, local=True, timeout_s=5.0, constrained_json=True)
    sent = judge_with(local)["response_format"]
    assert sent == {"type": "json_object", "schema": schema}  # llama-cpp-python's spelling
