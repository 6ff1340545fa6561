"""HTTP triggers: a tenant's HTTP functions served at /http/{tenant}/{httpPath} (routes.blp)."""
