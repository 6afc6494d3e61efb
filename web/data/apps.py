from django.apps import AppConfig


class DataConfig(AppConfig):
    name = "web.data"
    label = "data"
    verbose_name = "Labelled training data"
