# Portico web image: gunicorn serving the app and its pre-built static files.
# The same image runs the outbox worker and the migrations (see compose.yaml).
# Pinned to a patch release with the CVE-2024-6923 fix (email headers; 3.11.10+ / 3.12.6+) on Debian 12.
# The site does not rely on it (mail/message.py writes its own headers), it is defence in depth.
FROM python:3.12.12-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    APP_ENV=production \
    HOST=0.0.0.0 \
    PORT=8000 \
    STATIC_BUILD_DIR=/app/static-build

RUN useradd --no-log-init --create-home --uid 10001 --user-group portico

WORKDIR /app

# Invoice PDFs (WeasyPrint) lay text out with Pango; DejaVu gives every invoice the same embedded font.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

# Dependencies in their own layer: rebuilt only when requirements.txt changes.
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt

# The code belongs to root and is read-only for the app user; only instance/ is writable.
COPY . .
RUN python -m web.static_build \
    && mkdir -p /app/instance \
    && chown portico:portico /app/instance

# Numeric, so Kubernetes can verify runAsNonRoot.
USER 10001:10001
EXPOSE 8000

# No curl in the slim image: Python asks /healthz, which answers 503 when the database does not.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

# Migrations are not run here: the one-shot `migrate` service in compose.yaml runs them first.
CMD ["gunicorn", "--config", "gunicorn.conf.py", "app:create_app()"]
