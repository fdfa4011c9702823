"""Graph API emulator: a real HTTP server on loopback that behaves like Meta's Conversions API.

Run it with `python -m devtools.graph_emulator --port 8765`; drive it from tests with
`devtools.graph_emulator.process.start_emulator()` and `EmulatorAdmin`. See README.md.
"""

from .rules import RuleConfig
from .server import EmulatorApp, make_server

__all__ = ["EmulatorApp", "RuleConfig", "make_server"]
