# The gateway image: the Python package plus the SQL it applies (db/functions).
FROM python:3.11-slim
WORKDIR /app
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
COPY pyproject.toml README.md ./
COPY gateway ./gateway
COPY db ./db
COPY templates ./templates
RUN pip install . && useradd --system --no-create-home gateway
USER gateway
EXPOSE 8000
CMD ["gateway", "run"]
