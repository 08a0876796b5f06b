"""Fake payment providers speaking the real wire formats, served on loopback for tests.

Each fake is a small Starlette app holding its provider's objects in memory; the
connector tests reach it over real HTTP through :class:`~tests.fakes.server.LiveServer`.
Request paths, authentication, body encodings, response and error JSON follow the
providers' API references (the module docstrings name what each copies).
"""
