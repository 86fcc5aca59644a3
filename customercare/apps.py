from django.apps import AppConfig


class CustomerCareConfig(AppConfig):
    name = "customercare"
    verbose_name = "Customer care"
