# One image for backend (Django/gunicorn), worker, beat and flower.
FROM python:3.11.13-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    SII_ENVIRONMENT=production \
    SII_DATA_DIR=/data

WORKDIR /app
COPY requirements.txt ./
RUN pip install -r requirements.txt
COPY . .
RUN SII_SECRET_KEY=build SII_FERNET_KEYS=c2lpc3VyaXQtZGV2ZWxvcG1lbnQtb25seS1rZXktMDE= SII_POSTGRES_HOST=build SII_POSTGRES_PASSWORD=build python manage.py collectstatic --no-input -v0  # only to collect files; no database is touched
RUN useradd --system --home-dir /data --create-home siisurit && chown -R siisurit /data
USER siisurit
EXPOSE 8000
CMD ["gunicorn", "siisurit.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
