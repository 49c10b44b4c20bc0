"""daphne fixes: RFC 6455 close codes (1001, 1008, 1009, 1011), and no per-frame log formatting.

Autobahn (under daphne) refuses any application close code but 1000 and 3000-4999, so a
`websocket.close` with 1001 (going away), 1009 (message too big) or 1011 (server error)
raises and the TCP connection is dropped without a close frame.  RFC 6455 §7.4.1 defines
these codes for endpoints; autobahn's own sendCloseFrame sends them fine.  uvicorn needs
no such help.
"""

# Codes RFC 6455 lets an endpoint send that autobahn's sendClose() refuses.
RFC_ENDPOINT_CODES = {1001, 1008, 1009, 1011}


def patch():
    try:
        from daphne.ws_protocol import WebSocketProtocol
    except ImportError:  # not running under daphne
        return
    if getattr(WebSocketProtocol, "_switchboard_patched", False):
        return
    original = WebSocketProtocol.serverClose

    def server_close(self, code=None):
        if code in RFC_ENDPOINT_CODES:
            self.sendCloseFrame(code=code, isReply=False)
        else:
            original(self, code)

    WebSocketProtocol.serverClose = server_close
    WebSocketProtocol._switchboard_patched = True
    _quiet_autobahn_highlighting()


def _quiet_autobahn_highlighting():
    """autobahn formats coloured debug-log arguments (hl/hltype/hlval) for every frame it
    sends, even with debug logging off: ~25-30 % of its send time in a broadcast
    (measured with py-spy, docs/performance.md).  The arguments only feed debug logs."""
    from autobahn.websocket import protocol

    def plain(*args, **kwargs):
        return ""

    for name in ("hl", "hltype", "hlval"):
        if hasattr(protocol, name):
            setattr(protocol, name, plain)
    # Likewise every new connection pretty-prints its ~60 config attributes for one debug
    # line (WebSocketProtocol._connectionMade): 7-8 % of a connect storm.  The module's
    # other use (Timings.__str__, debug only) gets the real thing.
    if hasattr(protocol, "pformat") and hasattr(protocol, "Timings"):
        from pprint import pformat

        protocol.Timings.__str__ = lambda self: pformat(self._timings)
        protocol.pformat = plain
