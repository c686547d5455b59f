from django.apps import AppConfig


class SiisuritConfig(AppConfig):
    name = "siisurit"
    verbose_name = "Siisurit"
    default_auto_field = "django.db.models.BigAutoField"
