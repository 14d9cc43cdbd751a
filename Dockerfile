# The service image: the API (`moderation serve`) and the webhook dispatcher
# (`moderation webhooks work`) run from it; docker-compose.yml wires them to PostgreSQL.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /app
RUN useradd --create-home --uid 10001 moderation

COPY pyproject.toml README.md alembic.ini ./
COPY service ./service
COPY migrations ./migrations
COPY seeds ./seeds
# Editable install: the CLI finds migrations/ and seeds/ beside the package, as in a checkout.
RUN pip install -e .

USER moderation
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --retries=5 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
ENTRYPOINT ["moderation"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "4"]
