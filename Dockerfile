# Production image: gunicorn serving cds_service on port 8080 as a non-root user.
#
# Base image by digest. This machine reaches no container registry, so the digest below could not
# be resolved or checked here: it is the python:3.11-slim digest found pinned in two independent
# public Dockerfiles (one pulling through AWS's mirror of the Docker Official Images), not one
# read from Docker Hub by us. Before a release, resolve the current one and replace it:
#   docker buildx imagetools inspect python:3.11-slim   (the "Digest:" line)
# A digest that does not exist makes the build fail; it never pulls something else.
FROM python:3.11-slim@sha256:9c900dea9e8fb7e16277c179b555cc72d29a352dbc33cff48ad5a0412fd5bfc7

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CDS_CONTENT_DIR=/app \
    CDS_CONFIG_FILE=/app/config/settings.yaml \
    CDS_HOST=0.0.0.0 \
    CDS_PORT=8080

WORKDIR /app
# Dependencies from the lock file only, each file checked against its hash; then the package
# itself without dependencies. Installed as root into site-packages: the runtime user cannot
# change any code it runs.
COPY requirements.lock ./
RUN pip install --no-compile --require-hashes -r requirements.lock
COPY pyproject.toml README.md ./
COPY cds_service ./cds_service
RUN pip install --no-compile --no-deps . && rm -rf /app/cds_service /app/build
# Content (service definitions, card templates, value sets, settings) is data:
# copied after the install so a wording change does not rebuild dependencies.
COPY hooks ./hooks
COPY cards ./cards
COPY config ./config
# Synthetic demo patients, served only when CDS_DEMO_ENABLED=true (a demo deployment).
COPY demo ./demo

# Everything above stays root's and read-only to the service; only var/ (the SQLite store and
# replay cache of a single-host deployment) is the service user's.
RUN useradd --system --uid 10001 --no-create-home cds \
    && chmod -R a-w,a+rX /app /usr/local/lib/python3.11/site-packages \
    && install -d -o 10001 -g 10001 -m 0700 /app/var
USER 10001

EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2).status == 200 else 1)"

# The buffering worker (cds_service/ops/worker.py) comes with `serve`: never plain gunicorn.
CMD ["cds-service", "serve"]
