"""The one way a service makes its Redis client (auth's sessions and lockouts, the gateway's rate
limits and revocation checks), so that a Redis restart costs no request.

A restart leaves every pooled connection dead. Without a retry the pool handed them out one by one,
each to a request that then failed (500 at sign-in, 503 at the gateway) — minutes later for the
connections used least. Here:

* ``health_check_interval``: a connection idle longer than that is PINGed before use, and
  reconnected (the command itself is sent only on a live connection);
* ``retry`` once on ConnectionError / TimeoutError: a command that met a connection dropped since
  is sent again on a new one. Redis ran it at most once in that case (the old server is gone); the
  one ambiguous case, a reply lost after the command ran, can only count one more hit of a rate
  limit or a failed sign-in — conservative, so the commands here are safe to send twice;
* timeouts, so that a Redis that accepts connections but does not answer fails fast instead of
  holding requests.
"""

from __future__ import annotations

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from blazing_service.dependencies import DEPENDENCIES, REDIS


def redis_client(url: str, *, name: str, timeout: float = 2.0, health_check_interval: float = 5.0) -> Redis:
    DEPENDENCIES.watch(REDIS, url)
    return Redis.from_url(
        url,
        client_name=name,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        socket_keepalive=True,
        health_check_interval=health_check_interval,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=1),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
    )
