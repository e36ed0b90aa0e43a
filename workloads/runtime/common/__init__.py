"""Shared by both services: env config, JSON logs, the ASGI core, X-Ray, the server runner."""
