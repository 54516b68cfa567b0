# syntax=docker/dockerfile:1.7
# Training image: Papermill runs nbs/03_train.ipynb (docker/train-entrypoint.sh); the same image runs the
# other batch steps (`sentiment-nb ingest|preprocess|split|evaluate|drift ...`). Core dependencies plus
# the monitoring extra; no dev tools, no JupyterLab, no Airflow.
#   docker build -f docker/train.Dockerfile -t sentiment-nb-train .
#
# Base: CPython 3.11.14 on Debian 12 (bookworm), pinned by tag and by the digest of its multi-arch index
# so that a rebuild of the same commit starts from the same bytes. Refresh both together, in every
# FROM line (docker buildx imagetools inspect python:3.11.14-slim-bookworm).
FROM python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
# Dependencies first (hash-pinned lock, see docker/lock-requirements.sh): this layer is reused until the lock changes.
COPY docker/requirements/train.txt /tmp/requirements.txt
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
LABEL org.opencontainers.image.title="sentiment-nb training" \
      org.opencontainers.image.source="https://github.com/sentiment-nb/sentiment-nb"
ENV PATH=/opt/venv/bin:$PATH \
    SNB_GIT_COMMIT=${GIT_COMMIT} \
    PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    SNB_HOME=/app HOME=/tmp MPLCONFIGDIR=/tmp/matplotlib
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --no-create-home --home-dir /tmp --shell /usr/sbin/nologin app
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY nbs/03_train.ipynb nbs/03_train.ipynb
COPY docker/train-entrypoint.sh docker/train-entrypoint.sh
USER 10001:10001
# A batch job, not a service: there is nothing to probe while Papermill runs. ECS tracks the task by its
# exit code (a failed cell exits non-zero and raises the training-failed notification).
HEALTHCHECK NONE
ENTRYPOINT ["/app/docker/train-entrypoint.sh"]
