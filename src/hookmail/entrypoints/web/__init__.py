"""The dashboard: server-rendered pages over the same core use cases as the REST API.

Jinja2 renders (autoescaped), a hand-written stylesheet styles, no JavaScript is needed.
"""
