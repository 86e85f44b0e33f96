"""A concurrency cap enforced at the wire: at most N requests in flight to one endpoint.

The evaluation engine runs more worker threads than its concurrency so that one example's
client CPU (dspy formatting, litellm and openai SDK processing, ~6-7 ms) overlaps the others'
waits; the cap then lives here, in the HTTP transport, where it is exact: a slot is held from
sending the request until its response is closed (body read, or stream closed), and never
during retry sleeps or prompt formatting.

- :class:`GatedTransport` wraps an ``httpx.HTTPTransport``; a request to an endpoint
  (scheme, host, port) with a registered limit waits for a slot, others pass straight through.
- :func:`endpoint_limit` registers a limit for the duration of one evaluation. Registrations
  for the same endpoint may nest or overlap (two evaluations at once): the smallest active
  limit applies, and all of them share one in-flight count, so the endpoint never sees more
  than that limit. A registration counts the requests that start after it.
- :func:`install` makes litellm use a client built on this transport (``litellm.client_session``),
  once per process. litellm's OpenAI-compatible path ("openai/..." with ``api_base``) builds its
  OpenAI SDK client on that session; other providers do not use it, so :func:`gated_api_base`
  says whether the cap can apply to an LM at all.
"""

from __future__ import annotations

import logging
import threading
import time
import urllib.request
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from judgeflow.errors import InputError

# Connection pool of the installed client: httpx's default keeps only 20 idle connections,
# which makes every request above concurrency 20 open a new one.
POOL_LIMITS = httpx.Limits(max_connections=512, max_keepalive_connections=256, keepalive_expiry=30.0)
DEFAULT_PORTS = {"http": 80, "https": 443}

Endpoint = tuple[str, str, int]
logger = logging.getLogger("judgeflow.gate")
_WAITED = threading.local()  # .seconds: this thread's total time queued for a slot


def slot_wait_seconds() -> float:
    """Seconds this thread has spent, in total, waiting for endpoint slots.

    The engine subtracts the difference across one example from its latency, so a stored
    latency is the LM's answer time, not the time the example queued behind the cap.
    """
    return getattr(_WAITED, "seconds", 0.0)


def endpoint_of(api_base: str) -> Endpoint:
    """(scheme, host, port) of a URL, the key a limit is registered under."""
    url = httpx.URL(api_base)
    if url.scheme not in DEFAULT_PORTS or not url.host:
        raise InputError(f"an endpoint needs an http(s) URL with a host, got {api_base!r}")
    return _key(url)


def _key(url: httpx.URL) -> Endpoint:
    return url.scheme, url.host, url.port or DEFAULT_PORTS.get(url.scheme, 0)  # httpx lowercases host


class _Slots:
    """One endpoint's in-flight count and active limits (a semaphore whose size can shrink)."""

    def __init__(self) -> None:
        self.limits: list[int] = []  # one entry per active registration
        self.in_flight = 0
        self._cond = threading.Condition()

    @property
    def limit(self) -> int | None:
        return min(self.limits) if self.limits else None

    def acquire(self) -> None:
        with self._cond:
            if self.limits and self.in_flight >= min(self.limits):
                started = time.perf_counter()
                while self.limits and self.in_flight >= min(self.limits):
                    self._cond.wait()
                _WAITED.seconds = slot_wait_seconds() + time.perf_counter() - started
            self.in_flight += 1

    def release(self) -> None:
        with self._cond:
            if self.in_flight <= 0:
                raise RuntimeError("endpoint slot released more often than acquired")
            self.in_flight -= 1
            self._cond.notify()

    def add(self, limit: int) -> None:
        with self._cond:
            self.limits.append(limit)

    def remove(self, limit: int) -> None:
        with self._cond:
            self.limits.remove(limit)
            self._cond.notify_all()  # a larger limit, or none, may now let waiters through


# One _Slots per endpoint ever registered, kept for the process: a request that started under
# one registration releases into the same count a later registration sees.
_SLOTS: dict[Endpoint, _Slots] = {}
_SLOTS_LOCK = threading.Lock()


@contextmanager
def endpoint_limit(api_base: str, limit: int) -> Iterator[None]:
    """At most ``limit`` requests in flight to ``api_base``'s endpoint inside this block.

    Registrations for one endpoint may nest or overlap; the smallest active limit applies to
    all requests to it, whoever sends them.
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InputError(f"an endpoint limit must be a positive integer, got {limit!r}")
    endpoint = endpoint_of(api_base)
    with _SLOTS_LOCK:
        slots = _SLOTS.setdefault(endpoint, _Slots())
    slots.add(limit)
    try:
        yield
    finally:
        slots.remove(limit)


def limit_for(api_base: str) -> int | None:
    """The limit now in force for ``api_base``'s endpoint, or None when it is not gated."""
    slots = _SLOTS.get(endpoint_of(api_base))
    return slots.limit if slots is not None else None


def in_flight(api_base: str) -> int:
    """Gated requests to ``api_base``'s endpoint now holding a slot."""
    slots = _SLOTS.get(endpoint_of(api_base))
    return slots.in_flight if slots is not None else 0


class _Slot:
    """One acquired slot; released exactly once, however many times release() is called."""

    def __init__(self, slots: _Slots) -> None:
        self._slots: _Slots | None = slots
        self._lock = threading.Lock()

    def release(self) -> None:
        with self._lock:
            slots, self._slots = self._slots, None
        if slots is not None:
            slots.release()


class _ReleasingStream(httpx.SyncByteStream):
    """A response body that gives its slot back when the response is closed."""

    def __init__(self, stream: httpx.SyncByteStream, slot: _Slot) -> None:
        self._stream = stream
        self._slot = slot
        weakref.finalize(self, slot.release)  # a response dropped without close() still frees it

    def __iter__(self) -> Iterator[bytes]:
        yield from self._stream

    def close(self) -> None:
        try:
            self._stream.close()
        finally:
            self._slot.release()


class GatedTransport(httpx.BaseTransport):
    """An httpx transport that holds an endpoint slot for each request to a gated endpoint."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        slots = _SLOTS.get(_key(request.url))
        if slots is None or not slots.limits:
            return self.inner.handle_request(request)
        slots.acquire()
        slot = _Slot(slots)
        try:
            response = self.inner.handle_request(request)
        except BaseException:
            slot.release()
            raise
        response.stream = _ReleasingStream(response.stream, slot)  # type: ignore[arg-type]
        return response

    def close(self) -> None:
        self.inner.close()


def build_client() -> httpx.Client:
    """litellm's default sync client (``BaseOpenAILLM._get_sync_http_client``) on a gated transport."""
    from litellm.llms.custom_httpx.http_handler import get_ssl_configuration, http2_enabled

    verify, http2 = get_ssl_configuration(), http2_enabled()
    inner = httpx.HTTPTransport(verify=verify, http2=http2, limits=POOL_LIMITS)
    return httpx.Client(transport=GatedTransport(inner), verify=verify, follow_redirects=True, http2=http2)


_CLIENT: httpx.Client | None = None
_INSTALL_LOCK = threading.Lock()
_WARNED = False  # the "gate unavailable" warning is logged once per process


def install() -> bool:
    """Route litellm's OpenAI-compatible calls through the gate, once; True if they go through it.

    An existing ``litellm.client_session`` set by someone else is left alone: the gate is then
    unavailable (logged once) and the engine keeps one thread per concurrency slot. So it is
    when the environment names an HTTP(S) proxy: httpx ignores proxy variables for a client
    built on a custom transport, and litellm's default client honours them. Call this
    before the first litellm call to an endpoint: litellm caches its OpenAI SDK clients (per
    key, base and timeout) with the http client they were built on.
    """
    import litellm

    global _CLIENT, _WARNED
    with _INSTALL_LOCK:
        if litellm.client_session is None and (_CLIENT is not None or not _proxies_in_env()):
            if _CLIENT is None:
                _CLIENT = build_client()
            litellm.client_session = _CLIENT
        installed = _CLIENT is not None and litellm.client_session is _CLIENT
        if not installed and not _WARNED:
            _WARNED = True
            reason = (
                "HTTP(S)_PROXY is set, which an httpx client on a custom transport would ignore"
                if litellm.client_session is None
                else f"litellm.client_session is already set by someone else ({type(litellm.client_session).__name__})"
            )
            logger.warning(
                "%s: the endpoint concurrency gate is unavailable, evaluations use one thread "
                "per concurrency slot",
                reason,
            )
        return installed


def _proxies_in_env() -> bool:
    """True if the environment names an HTTP(S) proxy (what litellm's default client honours)."""
    proxies = urllib.request.getproxies()
    return any(proxies.get(scheme) for scheme in ("http", "https", "all"))


def gated_api_base(lm: Any) -> str | None:
    """``lm``'s api_base if its requests go through the installed gate, else None.

    True for a dspy.LM on the litellm engine whose provider is "openai" with an explicit
    api_base (the judge's local llama.cpp server and the fake server); other providers build
    their own HTTP clients and are not gated.
    """
    api_base = (getattr(lm, "kwargs", None) or {}).get("api_base")
    if not api_base or getattr(lm, "engine", None) != "litellm" or not install():
        return None
    import litellm

    try:
        _, provider, _, _ = litellm.get_llm_provider(model=lm.model, api_base=api_base)
    except Exception:  # litellm raises several kinds for a model it cannot place
        return None
    if provider != "openai":
        return None
    try:
        endpoint_of(api_base)
    except InputError:
        return None
    return str(api_base)
