"""One sign-up, one trace: gateway → auth → RabbitMQ → users → Kafka → consumers, and auth →
RabbitMQ → mailer → SMTP, all under the gateway's span — received by an OTLP/HTTP receiver the
test runs itself, with the services restarted to export to it (and restarted back afterwards)."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiohttp import web
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from blazing_testing import control, edge_client, stack_env
from blazing_testing.accounts import sign_up
from blazing_testing.http import served

pytestmark = pytest.mark.integration
ENV = stack_env()
TRACED = ("svc-gateway", "svc-auth", "svc-users", "svc-mailer")
# (ledger and files take only user.deleted of user.events: a user.created passes them by, untraced)


class Span:
    def __init__(self, service: str, raw: Any) -> None:
        self.service = service
        self.name: str = raw.name
        self.trace_id = raw.trace_id.hex()
        self.span_id = raw.span_id.hex()
        self.parent_id = raw.parent_span_id.hex()
        self.attributes = {a.key: a.value.string_value for a in raw.attributes}


@contextlib.asynccontextmanager
async def otlp_receiver() -> AsyncIterator[tuple[str, list[Span]]]:
    spans: list[Span] = []

    async def traces(request: web.Request) -> web.Response:
        export = ExportTraceServiceRequest()
        export.ParseFromString(await request.read())
        for resource in export.resource_spans:
            service = next(a.value.string_value for a in resource.resource.attributes if a.key == "service.name")
            spans.extend(Span(service, s) for scope in resource.scope_spans for s in scope.spans)
        return web.Response(content_type="application/x-protobuf", body=b"")

    app = web.Application()
    app.router.add_post("/v1/traces", traces)
    async with served(app) as port:
        yield f"http://127.0.0.1:{port}", spans


async def restart(env: dict[str, str] | None = None) -> None:
    for name in TRACED:
        await asyncio.to_thread(control, "stop", name)
        await asyncio.to_thread(control, "start", name, env=env)


async def test_one_sign_up_is_one_trace_across_http_rabbitmq_kafka_and_smtp() -> None:
    async with otlp_receiver() as (endpoint, spans):
        await restart({"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_BSP_SCHEDULE_DELAY": "100"})
        try:
            email = f"trace-{uuid.uuid4().hex[:10]}@example.org"
            async with edge_client() as edge:
                r = await sign_up(edge, email)
            assert r.status_code in (201, 202), r.text

            def trace_of_sign_up() -> list[Span]:
                roots = [s for s in spans if s.service == "gateway" and "sign-up" in s.name and not s.parent_id]
                if not roots:
                    return []
                return [s for s in spans if s.trace_id == roots[0].trace_id]

            wanted = {
                ("gateway", "sign-up"),
                ("auth", "sign-up"),
                ("users", "jobs.create_user process"),
                ("users", "user.events publish"),
                ("auth", "user.events process"),  # the consumer acting on user.created (its profiles)
                ("mailer", "jobs.send_email process"),
                ("mailer", "smtp send"),
            }

            def covered(trace: list[Span]) -> set[tuple[str, str]]:
                return {(svc, part) for svc, part in wanted for s in trace if s.service == svc and part in s.name}

            deadline = time.monotonic() + 30
            while covered(trace_of_sign_up()) != wanted:
                assert time.monotonic() < deadline, (
                    f"missing from the sign-up's trace: {wanted - covered(trace_of_sign_up())}; "
                    f"spans seen: {sorted({(s.service, s.name) for s in spans})}"
                )
                await asyncio.sleep(0.25)
            trace = trace_of_sign_up()
            ids = {s.span_id for s in trace}
            orphans = [s for s in trace if s.parent_id and s.parent_id not in ids]
            assert not orphans, f"every span's parent is in the same trace: {[(s.service, s.name) for s in orphans]}"
        finally:
            await restart()
    async with httpx.AsyncClient() as client:  # back to normal: answering without an exporter
        assert (await client.get(f"http://127.0.0.1:{ENV['AUTH_PORT']}/health")).status_code == 200
