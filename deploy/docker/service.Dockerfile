# Every Blazing Sun service's image: one template, the service and its port as build arguments (its
# row in deploy/services.tsv). Build from the repository root (the shared libraries live there):
#   docker build -f deploy/docker/service.Dockerfile --build-arg SERVICE=ledger --build-arg PORT=8003 \
#     --target prod .                                   (or --target dev: reloads on source changes)
# deploy/compose/docker-compose.yml passes both and picks the target from BUILD_ENV.
# PYTHON_IMAGE is the base of every stage: the public image by default, or any Debian-like image
# with python3 (3.11+) and python3-venv, e.g. one made here by deploy/docker/base-image.sh.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
# bytecode compiled once here: a container starts without compiling every module it imports
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 UV_COMPILE_BYTECODE=1
WORKDIR /app
# The pinned dependencies first, before SERVICE is in scope: one layer that every service's image
# shares (built once, cached until requirements/ changes).
COPY requirements/ requirements/
COPY deploy/compose/install-service.sh deploy/compose/install-service.sh
RUN deploy/compose/install-service.sh --requirements /opt/venv
ARG SERVICE
RUN test -n "$SERVICE" || { echo "build argument SERVICE is required (a name in deploy/services.tsv)" >&2; exit 1; }
COPY libs/ libs/
COPY services/${SERVICE}/ services/${SERVICE}/
RUN deploy/compose/install-service.sh "$SERVICE" /opt/venv

FROM ${PYTHON_IMAGE} AS prod
# /data/storage: where a deployment mounts the files service's volume; owned by the app user here, so
# that a new named volume starts out writable for it (Docker copies the mount point's owner)
RUN groupadd --system --gid 10001 app && useradd --system --uid 10001 --gid app --no-create-home app \
  && mkdir -p /data/storage && chown -R 10001:10001 /data
ARG SERVICE
ARG PORT
RUN test -n "$PORT" || { echo "build argument PORT is required (the service's port in deploy/services.tsv)" >&2; exit 1; }
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PATH="/opt/venv/bin:$PATH" \
  SERVICE_NAME=${SERVICE} SERVICE_HOST=0.0.0.0 SERVICE_PORT=${PORT}
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
USER 10001:10001
EXPOSE ${PORT}
# the port it really listens on: SERVICE_PORT, which a deployment may set (compose does for the gateway)
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=5 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"SERVICE_PORT\"]}/health', timeout=2)"]
# exec: the service is PID 1 and receives the stop signal itself
CMD ["/bin/sh", "-c", "exec python -m \"$SERVICE_NAME\""]

FROM build AS dev
ARG SERVICE
ARG PORT
RUN test -n "$PORT" || { echo "build argument PORT is required (the service's port in deploy/services.tsv)" >&2; exit 1; } \
  && deploy/compose/install-service.sh "$SERVICE" /opt/venv dev \
  && groupadd --system --gid 10001 app && useradd --system --uid 10001 --gid app --no-create-home app \
  && mkdir -p /data/storage && chown -R 10001:10001 /data
ENV PATH="/opt/venv/bin:$PATH" SERVICE_NAME=${SERVICE} SERVICE_HOST=0.0.0.0 SERVICE_PORT=${PORT}
USER 10001:10001
EXPOSE ${PORT}
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=5 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"SERVICE_PORT\"]}/health', timeout=2)"]
CMD ["/bin/sh", "-c", "exec watchfiles --filter python \"python -m $SERVICE_NAME\" \"services/$SERVICE_NAME/src\" libs"]
