"""Per-tenant secrets: the REST routes (`routes.py`) and the key rotation (`python -m web.secrets`)."""
