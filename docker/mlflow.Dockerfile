# syntax=docker/dockerfile:1.7
# MLflow tracking server with the PostgreSQL driver (psycopg 3) and boto3 for artifacts proxied to S3.
# Started by docker/mlflow-entrypoint.sh, which builds the database URI from DB_* variables (ECS injects
# the password from Secrets Manager) and passes it to MLflow through the environment.
#   docker build -f docker/mlflow.Dockerfile -t sentiment-nb-mlflow .
FROM python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
COPY docker/requirements/mlflow.txt /tmp/requirements.txt
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --require-hashes -r /tmp/requirements.txt \
    && /opt/venv/bin/pip check

FROM python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d AS runtime
LABEL org.opencontainers.image.title="sentiment-nb mlflow" \
      org.opencontainers.image.source="https://github.com/sentiment-nb/sentiment-nb"
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 HOME=/tmp \
    MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --no-create-home --home-dir /tmp --shell /usr/sbin/nologin app
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY docker/mlflow-entrypoint.sh docker/mlflow-entrypoint.sh
USER 10001:10001
EXPOSE 5000
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5000/health', timeout=5)"]
ENTRYPOINT ["/app/docker/mlflow-entrypoint.sh"]
