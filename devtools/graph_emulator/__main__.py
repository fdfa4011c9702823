"""`python -m devtools.graph_emulator --host 127.0.0.1 --port 8765 [options]`."""

from __future__ import annotations

import argparse
import gc
import signal
import sys
from pathlib import Path
from typing import NoReturn

import orjson

from .rules import DEFAULT_WABA_SUBCODE, RuleConfig
from .server import EmulatorApp, PixelEntry, make_server, parse_pixels


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.graph_emulator",
        description="Meta Graph API (Conversions API) emulator on loopback.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port (default 8765)")
    parser.add_argument(
        "--pixels-file", type=Path, help='JSON {"pixels": {"<pixel_id>": "<token>"}} (or the bare mapping)'
    )
    parser.add_argument(
        "--accept-any-token",
        action="store_true",
        help="accept any non-empty token for any numeric pixel id (benchmarks)",
    )
    parser.add_argument(
        "--store-events",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="keep accepted events for GET /_emulator/events (default on)",
    )
    parser.add_argument("--quiet", action="store_true", help="no access log on stderr")
    parser.add_argument("--max-events", type=int, default=1000, help="events per request (default 1000)")
    parser.add_argument("--max-age-days", type=int, default=7)
    parser.add_argument("--physical-store-max-age-days", type=int, default=62)
    parser.add_argument("--future-skew-seconds", type=int, default=60)
    parser.add_argument(
        "--waba-subcode",
        type=int,
        default=DEFAULT_WABA_SUBCODE,
        help="subcode for a business_messaging event without WABA id (default %(default)s)",
    )
    parser.add_argument(
        "--clock-offset-seconds",
        type=int,
        default=0,
        help="shift the emulator's clock (positive = emulator is ahead)",
    )
    parser.add_argument(
        "--round-trip-ms", type=int, default=0, help="answer each events POST after this many ms (default 0)"
    )
    parser.add_argument(
        "--round-trip-jitter-ms", type=int, default=0, help="plus up to this many ms, uniformly (default 0)"
    )
    return parser


def load_pixels_file(path: Path) -> dict[str, PixelEntry]:
    raw = orjson.loads(path.read_bytes())
    if isinstance(raw, dict) and isinstance(raw.get("pixels"), dict):
        raw = raw["pixels"]
    return parse_pixels(raw)


def _terminate(signum: int, frame: object) -> NoReturn:
    raise SystemExit(0)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    config = RuleConfig(
        max_events=args.max_events,
        max_age_seconds=args.max_age_days * 86400,
        physical_store_max_age_seconds=args.physical_store_max_age_days * 86400,
        future_skew_seconds=args.future_skew_seconds,
        waba_subcode=args.waba_subcode,
        clock_offset_seconds=args.clock_offset_seconds,
        round_trip_ms=args.round_trip_ms,
        round_trip_jitter_ms=args.round_trip_jitter_ms,
    )
    pixels = load_pixels_file(args.pixels_file) if args.pixels_file else {}
    app = EmulatorApp(
        pixels=pixels, accept_any_token=args.accept_any_token, store_events=args.store_events, config=config
    )
    server = make_server(args.host, args.port, app, access_log=not args.quiet)
    port = server.server_address[1]
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"graph emulator listening on http://{host}:{port}", flush=True)
    signal.signal(signal.SIGTERM, _terminate)
    # Each request allocates thousands of short-lived containers (the parsed JSON), freed by
    # reference counting; with the default gen-0 threshold (700) the cyclic GC would run several
    # times per request and repeatedly walk every stored event. The emulator makes few cycles.
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
