# Tandem: the README's own steps (pip install ., tandem db upgrade, tandem serve) in an image.
#   docker build -t tandem .
#   docker run -p 8000:8000 -v tandem-data:/var/lib/tandem --env-file deploy/.env tandem
# With PostgreSQL, see deploy/compose.yaml (it runs `tandem db upgrade` before `tandem serve`).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY models ./models
COPY scheduler ./scheduler
COPY migrations ./migrations
RUN pip install . && rm -rf /src

# An unprivileged user; the embedded SQLite database (the default) lives in the volume, created 0600.
RUN useradd --system --uid 10001 --home-dir /var/lib/tandem --create-home --shell /usr/sbin/nologin tandem \
    && chmod 0700 /var/lib/tandem
USER tandem
WORKDIR /var/lib/tandem
ENV TANDEM_DATABASE_URL=sqlite:////var/lib/tandem/tandem.db
VOLUME ["/var/lib/tandem"]

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
# SIGTERM (docker stop) drains the work under way and exits 0; give it more than Docker's default 10 s.
STOPSIGNAL SIGTERM
CMD ["sh", "-c", "tandem db upgrade && exec tandem serve --host 0.0.0.0 --port 8000"]
