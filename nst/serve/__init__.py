"""``nst serve``: an ASGI service (FastAPI + uvicorn) over nst's runtime, with dynamic batching.

:func:`nst.serve.app.create_app` makes the app from :class:`nst.serve.options.ServeOptions`;
:func:`nst.serve.server.serve` runs it with uvicorn (what ``nst serve`` calls). Needs the
``serve`` extra: ``pip install 'nst[serve]'``. See docs/SERVING.md.
"""
