"""The HTTP API (FastAPI): routes, auth dependencies, the web page; the only layer that knows HTTP."""
