"""The embedded local model: assembling the GGUF, the llama.cpp server's lifecycle, and one
end-to-end evaluation with the real Gemma 3 270M (marked ``local_model``: CPU, ~10-30 s).

Stays away from: judging the model's quality (it is a weak base model; its parse rate is
whatever it is), ports other than free ones on 127.0.0.1, the user's home directory.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from judge.local_model import (
    LocalModelError,
    LocalModelServer,
    ensure_local_server,
    model_path,
    serving_models,
)
from judge.program import RelevanceJudge
from judge.scale import Scale
from judge.types import JudgeExample
from judgeflow.config import LOCAL_MODEL_ALIAS, LMConfig, load_settings
from tasks.evaluate import evaluate_program
from tests.fakes.openai_server import FakeOpenAIServer

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return model_path(tmp_path_factory.mktemp("jf-home"))


def test_the_model_file_is_assembled_once_and_then_reused(gguf: Path) -> None:
    stat = gguf.stat()
    assert stat.st_size > 200_000_000
    again = model_path(gguf.parent.parent)
    assert again == gguf and again.stat().st_mtime_ns == stat.st_mtime_ns
    assert not list(gguf.parent.glob("*.partial"))


def test_the_server_command_binds_loopback_with_the_alias_and_gemma_chat_format(tmp_path: Path) -> None:
    server = LocalModelServer(9999, tmp_path / "m.gguf", n_ctx=1024)
    cmd = server.command()
    assert cmd[1:3] == ["-m", "llama_cpp.server"]
    pairs = dict(zip(cmd[3::2], cmd[4::2], strict=False))
    assert pairs["--host"] == "127.0.0.1" and pairs["--port"] == "9999"
    assert pairs["--model_alias"] == LOCAL_MODEL_ALIAS and pairs["--chat_format"] == "gemma"
    assert pairs["--n_ctx"] == "1024"


def test_a_missing_model_file_says_how_to_prepare_it(tmp_path: Path) -> None:
    with pytest.raises(LocalModelError, match="judgeflow lm prepare"):
        LocalModelServer(free_port(), tmp_path / "absent.gguf").start()


def test_ensure_local_server_refuses_a_port_serving_another_model(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeOpenAIServer(models=["someone-else"]) as other:
        monkeypatch.setenv("JUDGEFLOW_LOCAL_MODEL_PORT", str(other.port))
        with pytest.raises(LocalModelError, match="someone-else"):
            ensure_local_server(load_settings())


def test_ensure_local_server_reuses_a_server_already_serving_the_alias(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeOpenAIServer(models=[LOCAL_MODEL_ALIAS]) as running:
        monkeypatch.setenv("JUDGEFLOW_LOCAL_MODEL_PORT", str(running.port))
        assert ensure_local_server(load_settings()) == running.api_base
        assert [r.path for r in running.requests] == ["/v1/models"]


@pytest.mark.local_model
@pytest.mark.timeout(300)
def test_the_real_local_model_judges_three_examples_and_every_answer_is_recorded(gguf: Path, con) -> None:
    port = free_port()
    items = [
        JudgeExample(id="a", query="how do I reset my password", document="To reset your password, open Settings > Account > Reset password.", gold=5),
        JudgeExample(id="b", query="office opening hours", document="The cafeteria menu for Tuesday: soup, salad, pasta.", gold=1),
        JudgeExample(id="c", query="vpn setup on linux", document="Install openvpn, import the company profile, then connect.", gold=4),
    ]
    with LocalModelServer(port, gguf, n_ctx=2048) as server:
        assert LOCAL_MODEL_ALIAS in (serving_models(server.api_base) or [])
        cfg = LMConfig(api_base=server.api_base, max_tokens=96, timeout_s=120.0, concurrency=1)
        result = evaluate_program(RelevanceJudge(), items, cfg, scale=Scale(), con=con, progress=False, lm_error_threshold=0.0)
        constrained = evaluate_program(
            RelevanceJudge(), items, cfg.model_copy(update={"constrained_json": True, "max_tokens": 128}),
            scale=Scale(), con=con, progress=False, lm_error_threshold=0.0, label="constrained",
        )
    assert server.process is None  # stopped cleanly
    assert result.n_lm_errors == 0 and result.calls == 3
    assert all(o.status in {"ok", "parse_error"} for o in result.outputs)
    assert all(o.raw for o in result.outputs)  # the raw text is kept whatever the parse rate
    stored = con.execute(
        "SELECT example_id, status, raw IS NOT NULL, completion_tokens > 0 FROM predictions"
        " WHERE run_id = $run ORDER BY example_id",
        {"run": result.run_id},
    ).fetchall()
    assert [(row[0], row[2], row[3]) for row in stored] == [("a", True, True), ("b", True, True), ("c", True, True)]
    # With the answer's schema as a grammar the weak base model answers in the contract (zero-shot
    # it echoes the prompt): only a cut-off explanation can still fail, and that stays counted.
    assert constrained.calls == 3 and any(o.status == "ok" for o in constrained.outputs)
    assert all(o.status == "ok" or o.error_kind == "truncated_output" for o in constrained.outputs)
