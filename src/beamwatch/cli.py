"""Command line: ``beamwatch serve | demo | replay | export``."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from beamwatch import __version__
from beamwatch.config import Settings


_DEFAULTS = Settings()


class CliError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


def _serve_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default=_DEFAULTS.host, help="address to listen on (default %(default)s)")
    p.add_argument("--port", type=int, default=_DEFAULTS.port, help="port (default %(default)s)")
    p.add_argument("--data-dir", type=Path, default=_DEFAULTS.data_dir,
                   help=f"where the embedded archive lives (default ./{_DEFAULTS.data_dir})")
    p.add_argument("--archive-url", help="SQLAlchemy URL of the archive, e.g. postgresql+psycopg://host/db "
                                         "(default: SQLite file in --data-dir)")
    p.add_argument("--zmq", action="append", default=[], metavar="HOST:PORT",
                   help="subscribe to a bluesky 0MQ Proxy out-port (repeatable)")
    p.add_argument("--zmq-prefix", default=_DEFAULTS.zmq_prefix.decode(), help="0MQ topic prefix the Publisher uses")
    p.add_argument("--zmq-format", choices=["msgpack", "json", "pickle"], default=_DEFAULTS.zmq_format,
                   help="payload serialisation on 0MQ (default %(default)s)")
    p.add_argument("--zmq-unsafe-pickle", action="store_true",
                   help="allow --zmq-format pickle (UNSAFE: anyone who can publish can run code here)")
    p.add_argument("--data-root", action="append", default=[], type=Path, metavar="DIR",
                   help="directory detector files may be read from (repeatable)")
    p.add_argument("--path-map", action="append", default=[], metavar="OLD=NEW",
                   help="rewrite detector file paths starting with OLD to NEW (repeatable)")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])


def settings_from(args: argparse.Namespace) -> Settings:
    path_map = []
    for item in args.path_map:
        old, sep, new = item.partition("=")
        if not sep or not old or not new:
            raise CliError(f"--path-map {item!r}: expected OLD=NEW")
        path_map.append((old, new))
    if args.zmq_format == "pickle" and not args.zmq_unsafe_pickle:
        raise CliError("--zmq-format pickle runs arbitrary code from the network; add --zmq-unsafe-pickle to allow it")
    return Settings(host=args.host, port=args.port, data_dir=args.data_dir, archive_url=args.archive_url,
                    zmq=args.zmq, zmq_prefix=args.zmq_prefix.encode(), zmq_format=args.zmq_format,
                    zmq_unsafe_pickle=args.zmq_unsafe_pickle, data_roots=args.data_root, path_map=path_map)


def cmd_serve(args: argparse.Namespace, demo: bool = False) -> int:
    import uvicorn

    from beamwatch.server.app import create_app

    settings = settings_from(args)  # refuses pickle without --zmq-unsafe-pickle; each 0MQ source warns of it
    app = create_app(settings)
    if demo:
        from beamwatch.demo import install

        install(app, settings, loop=not args.no_loop, rate=args.rate)
    url = f"http://{settings.host}:{settings.port}/"
    print(f"beamwatch {__version__}: open {url}  (API docs {url}docs; archive: "
          f"{settings.archive_url or settings.data_dir.resolve()})", flush=True)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=args.log_level,
                ws_per_message_deflate=False, access_log=args.log_level == "debug")
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from beamwatch.client import Publisher
    from beamwatch.sources.replay import replay

    items = _load_run(args)
    pub = Publisher(args.to)
    with tqdm(total=len(items), unit="doc", desc="replay", file=sys.stderr) as bar:
        replay(items, pub, rate=args.rate, new_uids=not args.keep_uids, progress=bar.update)
    pub.close()
    if pub.undelivered or pub.rejected:
        raise CliError(f"{len(pub.undelivered)} documents undelivered, {len(pub.rejected)} rejected by {args.to}")
    print(f"replayed {len(items)} documents to {args.to} ({pub.sent} accepted, {pub.duplicates} duplicates)")
    return 0


def _load_run(args: argparse.Namespace):
    from beamwatch.sources.replay import fetch_remote, read_jsonl

    src = args.run
    if Path(src).suffix in (".jsonl", ".ndjson") or Path(src).is_file():
        if not Path(src).is_file():
            raise CliError(f"{src}: no such file")
        return list(read_jsonl(Path(src)))
    if args.source:
        try:
            return list(fetch_remote(args.source, src))
        except Exception as exc:
            raise CliError(str(exc)) from None
    from beamwatch.archive import Archive
    from beamwatch.archive.store import sqlite_url
    from beamwatch import documents as docs

    archive = Archive(args.archive_url or sqlite_url(args.data_dir))
    hits = archive.resolve(src)
    if len(hits) != 1:
        raise CliError(f"{src!r}: {'no run matches' if not hits else 'ambiguous, matches ' + str(len(hits)) + ' runs'}"
                       f" in {archive.url}")
    out = [(n, docs.loads(b)) for _, n, b in archive.iter_documents(hits[0])]
    archive.close()
    return out


def cmd_export(args: argparse.Namespace) -> int:
    from beamwatch import documents as docs

    items = _load_run(args)
    out = open(args.output, "wb") if args.output else sys.stdout.buffer
    try:
        for name, doc in items:
            out.write(docs.dumps({"name": name, "doc": doc}) + b"\n")
    finally:
        if args.output:
            out.close()
            print(f"wrote {len(items)} documents to {args.output}", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="beamwatch", description="Live viewer and streaming-analysis server "
                                                                   "for bluesky document streams.")
    parser.add_argument("--version", action="version", version=f"beamwatch {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("serve", help="run the server")
    _serve_args(p)
    p.set_defaults(func=cmd_serve)
    p = sub.add_parser("demo", help="run the server with a simulated beamline scanning in a loop")
    _serve_args(p)
    p.add_argument("--no-loop", action="store_true", help="do not scan in a loop (scans start from the UI/API)")
    p.add_argument("--rate", type=float, default=20.0,
                   help="detector exposures per second (exposure 1/RATE s; each scan point adds ~20 ms, "
                        "so the default 20 gives ~14 points/s); 0 = as fast as possible (~90 points/s)")
    p.set_defaults(func=lambda a: cmd_serve(a, demo=True))
    for cmd, helptext in (("replay", "replay an archived run as if live"), ("export", "export a run as JSON lines")):
        p = sub.add_parser(cmd, help=helptext)
        p.add_argument("run", help="run uid, uid prefix or scan id in the archive, or a .jsonl file")
        p.add_argument("--data-dir", type=Path, default=_DEFAULTS.data_dir)
        p.add_argument("--archive-url")
        p.add_argument("--source", metavar="URL", help="read the run from this beamwatch server instead")
        if cmd == "replay":
            p.add_argument("--to", required=True, metavar="URL", help="beamwatch server to send to")
            p.add_argument("--rate", type=float, default=None,
                           help="events per second (default: the original pacing; 0: as fast as possible)")
            p.add_argument("--keep-uids", action="store_true", help="send the original uids (default: fresh ones)")
            p.set_defaults(func=cmd_replay)
        else:
            p.add_argument("-o", "--output", help="file to write (default stdout)")
            p.set_defaults(func=cmd_export)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=getattr(args, "log_level", "info").upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request of the client/demo otherwise
    if getattr(args, "log_level", "info") != "debug":
        logging.getLogger("bluesky").setLevel(logging.WARNING)  # two INFO lines per scan of the demo otherwise
    try:
        return args.func(args)
    except CliError as exc:
        print(f"beamwatch: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except (OSError, ValueError) as exc:
        print(f"beamwatch: error: {exc}", file=sys.stderr)
        return 2
