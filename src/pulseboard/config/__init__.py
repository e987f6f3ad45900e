"""Django project configuration: the typed settings object, settings, URLs and WSGI entry."""
