from django.apps import AppConfig


class BenchPeerConfig(AppConfig):
    name = "benchpeer"
