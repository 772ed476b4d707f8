"""server/: FastAPI application (REST + websockets) over the core."""
