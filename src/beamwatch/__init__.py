"""beamwatch: live viewer and streaming-analysis server for bluesky documents.

Data flows one way::

    sources/ -> ingest (validate, run rules) -> archive/ (commit) -> hub
        -> analysis/ stages and server/ (REST + websockets) -> web/
"""

__version__ = "0.1.0"
