"""Shared by both apps: settings, JSON logging, tracing, the limits around the routes, the server."""
