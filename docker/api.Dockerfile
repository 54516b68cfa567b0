# syntax=docker/dockerfile:1.7
# Prediction API image: `sentiment-nb serve` (FastAPI + uvicorn) through docker/api-entrypoint.sh.
# Core dependencies plus the serve extra; no dev tools, no JupyterLab, no Airflow.
#   docker build -f docker/api.Dockerfile -t sentiment-nb-api .
#
# Base: CPython 3.11.14 on Debian 12 (bookworm), pinned by tag and by the digest of its multi-arch index
# (refresh both together: docker buildx imagetools inspect python:3.11.14-slim-bookworm).
FROM python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY docker/requirements/api.txt /tmp/requirements.txt
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --require-hashes -r /tmp/requirements.txt
COPY pyproject.toml README.md ./
COPY sentiment_nb ./sentiment_nb
RUN /opt/venv/bin/pip install --no-cache-dir --no-deps . \
    && /opt/venv/bin/pip check

FROM python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d AS runtime
LABEL org.opencontainers.image.title="sentiment-nb api" \
      org.opencontainers.image.source="https://github.com/sentiment-nb/sentiment-nb"
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    SNB_HOME=/app HOME=/tmp SNB_HOST=0.0.0.0 SNB_PORT=8000
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --no-create-home --home-dir /tmp --shell /usr/sbin/nologin app
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY docker/api-entrypoint.sh docker/api-entrypoint.sh
USER 10001:10001
EXPOSE 8000
# Liveness only (/health); readiness (/ready: a model is loaded) is for load balancers and compose.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('SNB_PORT', '8000'), timeout=4)"]
ENTRYPOINT ["/app/docker/api-entrypoint.sh"]
