"""Server-rendered web app (Django templates + htmx)."""
