from django.apps import AppConfig


class LearningConfig(AppConfig):
    name = "web.learning"
    label = "learning"
    verbose_name = "Learning from production: the prediction log, feedback, the review queue"
