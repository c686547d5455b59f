from django.apps import AppConfig
from django.db.models.signals import post_migrate, pre_migrate


class SiisuritConfig(AppConfig):
    name = "siisurit"
    verbose_name = "Siisurit"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        import siisurit.jobs.catalog  # noqa: F401  (declares the jobs; it imports every service, so models first)
        from siisurit.reports.signals import report_views_create_after_migrate, report_views_drop_before_migrate

        # Migrations of tables behind the report views work only while the views are gone.
        pre_migrate.connect(report_views_drop_before_migrate, sender=self, dispatch_uid="siisurit_reports_drop")
        post_migrate.connect(report_views_create_after_migrate, sender=self, dispatch_uid="siisurit_reports_create")
