from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "web.accounts"
    label = "accounts"
    verbose_name = "API users and tokens"

    def ready(self) -> None:
        from web.accounts import checks  # noqa: F401 registers the deployment check
