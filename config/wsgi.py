import os

from django.core.wsgi import get_wsgi_application

from core.collector import collector_tune

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_wsgi_application()
collector_tune()
