"""blazing_service.instances: calls to a service of several instances spread over them; one that
refuses the connection is passed over (the call goes to the next), then tried again."""

from __future__ import annotations

import httpx
import pytest

from blazing_service.instances import PASS_OVER_SECONDS, InstancesTransport, Rotation, first_instance, instance_urls


class Instances(httpx.AsyncBaseTransport):
    """Answers for the hosts it knows, refuses the others' connections; records who was asked."""

    def __init__(self, up: set[str], dropping: frozenset[str] = frozenset()) -> None:
        self.up, self.dropping = up, dropping
        self.asked: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        self.asked.append(host)
        if host not in self.up:
            raise httpx.ConnectError("refused", request=request)
        if host in self.dropping:
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request)
        assert request.headers["host"] == request.url.netloc.decode()
        return httpx.Response(200, text=host)


SETTING = "http://auth:8002,http://auth-2:8002/"


def test_a_rotation_starts_each_order_one_further_on_and_leaves_out_what_is_down() -> None:
    rotation = Rotation(["a", "b", "c"])
    assert [rotation.order(lambda _: True) for _ in range(4)] == [
        ["a", "b", "c"],
        ["b", "c", "a"],
        ["c", "a", "b"],
        ["a", "b", "c"],
    ]
    assert rotation.order(lambda i: i != "b") == ["c", "a"]
    assert rotation.order(lambda _: False) == ["c", "a", "b"], "none known up: every one is tried, in turn"


def test_a_setting_lists_its_instances_and_calls_go_to_the_first() -> None:
    assert instance_urls(SETTING) == ["http://auth:8002", "http://auth-2:8002"]
    assert first_instance(SETTING) == "http://auth:8002"
    assert first_instance("http://users:8001") == "http://users:8001"


async def test_calls_go_round_robin_and_a_refusing_instance_is_passed_over_then_tried_again() -> None:
    now = [0.0]
    inner = Instances({"auth", "auth-2"})
    async with httpx.AsyncClient(transport=InstancesTransport([SETTING], inner, clock=lambda: now[0])) as client:
        answered = [(await client.post("http://auth:8002/api/v1/auth/sign-in", json={})).text for _ in range(4)]
        assert answered == ["auth", "auth-2", "auth", "auth-2"]

        inner.up = {"auth-2"}
        inner.asked.clear()
        answered = [(await client.get("http://auth:8002/health")).text for _ in range(4)]
        assert answered == ["auth-2"] * 4
        assert inner.asked.count("auth") == 1, "refused once, then passed over"

        now[0] += PASS_OVER_SECONDS + 0.1
        inner.up = {"auth", "auth-2"}
        answered = [(await client.get("http://auth:8002/health")).text for _ in range(2)]
        assert sorted(answered) == ["auth", "auth-2"]


async def test_none_answering_is_the_connection_error_and_other_hosts_pass_untouched() -> None:
    inner = Instances({"users"})
    async with httpx.AsyncClient(transport=InstancesTransport([SETTING, "http://users:8001"], inner)) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get("http://auth:8002/health")
        assert (await client.get("http://users:8001/health")).text == "users"


async def test_a_safe_call_an_instance_drops_unanswered_goes_to_the_next_and_others_fail() -> None:
    """An instance killed mid-call: a GET is asked of the next instance; a POST, which it may have
    acted on, is not sent twice."""
    inner = Instances({"auth", "auth-2"}, dropping=frozenset({"auth"}))
    async with httpx.AsyncClient(transport=InstancesTransport([SETTING], inner)) as client:
        assert [(await client.get("http://auth:8002/api/v1/user")).text for _ in range(2)] == ["auth-2"] * 2
        assert inner.asked == ["auth", "auth-2", "auth-2"]
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post("http://auth:8002/api/v1/auth/sign-in", json={})
