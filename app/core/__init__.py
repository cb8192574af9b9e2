"""Infrastructure shared by every domain: settings, database, security, templating, errors."""
