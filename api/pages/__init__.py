"""The server-rendered web pages; api/pages/router.py gathers them into one router."""
