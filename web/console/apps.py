from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "web.console"
    label = "console"
    verbose_name = "The console in the browser"
