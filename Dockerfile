# Production image: gunicorn serving cds_service on port 8080 as a non-root user.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    CDS_CONTENT_DIR=/app \
    CDS_CONFIG_FILE=/app/config/settings.yaml \
    CDS_HOST=0.0.0.0 \
    CDS_PORT=8080

WORKDIR /app
COPY pyproject.toml README.md ./
COPY cds_service ./cds_service
RUN pip install --no-compile .
# Content (service definitions, card templates, value sets, settings) is data:
# copied after the install so a wording change does not rebuild dependencies.
COPY hooks ./hooks
COPY cards ./cards
COPY config ./config
# Synthetic demo patients, served only when CDS_DEMO_ENABLED=true (a demo deployment).
COPY demo ./demo

RUN useradd --system --uid 10001 --no-create-home cds && chown -R cds /app
USER 10001

EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2).status == 200 else 1)"

CMD ["cds-service", "serve"]
