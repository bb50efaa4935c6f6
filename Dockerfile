# syntax=docker/dockerfile:1
# reachwatch worker image. Build from the repository root:
#   docker build -t reachwatch:0.1.0 .
# Run: docker run reachwatch:0.1.0            (the worker)
#      docker run reachwatch:0.1.0 topics create
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY streams ./streams
COPY schemas ./schemas
# Every dependency ships manylinux wheels, so no compiler is needed; this also builds ours.
RUN python -m pip wheel --no-cache-dir --wheel-dir /wheels .

FROM ${PYTHON_IMAGE}
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    REACHWATCH_CONFIG=/etc/reachwatch/rules.toml \
    REACHWATCH_WEB__BIND=0.0.0.0 \
    REACHWATCH_WEB__PORT=6066
RUN groupadd --system --gid 10001 reachwatch \
    && useradd --system --uid 10001 --gid reachwatch --no-create-home \
       --home-dir /var/lib/reachwatch --shell /usr/sbin/nologin reachwatch \
    && install -d -o reachwatch -g reachwatch -m 0750 /var/lib/reachwatch
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    python -m pip install --no-cache-dir --no-index --find-links=/wheels reachwatch
COPY deploy/rules.toml /etc/reachwatch/rules.toml
# Faust keeps table state (RocksDB) under its data dir, relative to the working directory.
WORKDIR /var/lib/reachwatch
VOLUME ["/var/lib/reachwatch"]
USER 10001:10001
EXPOSE 6066
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('REACHWATCH_WEB__PORT', '6066') + '/health/live', timeout=4)"]
ENTRYPOINT ["reachwatch"]
CMD ["worker"]
