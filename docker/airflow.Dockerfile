# syntax=docker/dockerfile:1.7
# Local Airflow for docker compose (profile "airflow"): `airflow standalone` with the sentiment_pipeline
# DAG in local mode (steps run in-process with Papermill against MinIO and the MLflow service).
# Not deployed to AWS: there, Airflow (e.g. MWAA) runs the DAG in ecs mode with the settings from
# `terraform output airflow_ecs_settings`.
FROM python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY docker/requirements/airflow.txt /tmp/requirements.txt
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --require-hashes -r /tmp/requirements.txt
COPY pyproject.toml README.md ./
COPY sentiment_nb ./sentiment_nb
RUN /opt/venv/bin/pip install --no-cache-dir --no-deps . \
    && /opt/venv/bin/pip check \
    && /opt/venv/bin/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (sentiment-nb)"

FROM python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d AS runtime
# The commit this image was built from, recorded as the git tag of training runs (no .git in the image).
ARG GIT_COMMIT=unknown
ENV PATH=/opt/venv/bin:$PATH \
    SNB_GIT_COMMIT=${GIT_COMMIT} \
    PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    SNB_HOME=/app HOME=/opt/airflow AIRFLOW_HOME=/opt/airflow \
    AIRFLOW__CORE__DAGS_FOLDER=/app/airflow/dags AIRFLOW__CORE__LOAD_EXAMPLES=false \
    AIRFLOW__CORE__PARALLELISM=4 MPLCONFIGDIR=/tmp/matplotlib
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --no-create-home --home-dir /opt/airflow --shell /usr/sbin/nologin app \
    && mkdir -p /opt/airflow \
    && chown app:app /opt/airflow
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY nbs/03_train.ipynb nbs/03_train.ipynb
COPY airflow/dags airflow/dags
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=10s --start-period=90s --retries=5 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/api/v2/monitor/health', timeout=5)"]
CMD ["airflow", "standalone"]
