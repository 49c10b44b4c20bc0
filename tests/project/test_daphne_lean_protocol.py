"""project/daphne_compat.py keeps daphne's per-connection protocol lean: autobahn's options
are class attributes of a subclass (one per set of values) instead of ~30 instance
attributes, the send queue is a list, and the opening handshake is dropped once open."""

import sys

from twisted.internet.testing import StringTransport

from project import daphne_compat


def _factory(**options):
    from daphne.ws_protocol import WebSocketFactory

    factory = WebSocketFactory(None)
    factory.setProtocolOptions(**options)
    return factory


def _connected(factory):
    protocol = factory.buildProtocol(None)
    protocol.makeConnection(StringTransport())
    return protocol


def test_options_are_class_attributes_read_as_autobahn_copied_them():
    from daphne.ws_protocol import WebSocketProtocol

    daphne_compat.patch()
    factory = _factory(autoPingTimeout=30, allowNullOrigin=True)
    first, second = _connected(factory), _connected(factory)
    assert isinstance(first, WebSocketProtocol) and type(first).__name__ == "WebSocketProtocol"
    assert type(first) is type(second)
    for name in WebSocketProtocol.CONFIG_ATTRS:
        assert name not in vars(first)
        assert getattr(first, name) is getattr(factory, name)
    assert first.autoPingTimeout == 30 and first.allowNullOrigin is True
    assert type(first.send_queue) is daphne_compat._SendQueue and not first.send_queue
    # New options apply to new connections only, as autobahn's copy did.
    factory.setProtocolOptions(autoPingTimeout=99)
    third = _connected(factory)
    assert third.autoPingTimeout == 99 and first.autoPingTimeout == 30


def test_send_queue_keeps_fifo_order():
    queue = daphne_compat._SendQueue()
    queue.append((b"a", True))
    queue.append((b"b", False))
    assert len(queue) == 2 and queue.popleft() == (b"a", True) and queue.popleft() == (b"b", False)


class _Server:
    """The little of daphne's Server a WebSocketProtocol's handshake calls."""

    root_path = ""
    proxy_forwarded_address_header = None

    def __init__(self):
        self.inbox = daphne_compat._Inbox()

    def protocol_connected(self, protocol):
        pass

    def create_application(self, protocol, scope):
        self.scope = scope
        return self.inbox

    def log_action(self, *args):
        pass


HANDSHAKE = (b"GET /ws/?ticket=abc HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
             b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
             b"Sec-WebSocket-Version: 13\r\n\r\n")


def _masked_text_frame(text):
    mask, payload = b"\x01\x02\x03\x04", text.encode()
    return bytes([0x81, 0x80 | len(payload)]) + mask + bytes(
        byte ^ mask[i % 4] for i, byte in enumerate(payload))


async def test_an_open_socket_keeps_no_handshake_and_no_unmasker():
    daphne_compat.patch()
    factory = _factory()
    factory.server_class = server = _Server()
    protocol = factory.buildProtocol(None)
    transport = StringTransport()
    protocol.makeConnection(transport)
    protocol._raw_query_string = b"ticket=abc"
    protocol.dataReceived(HANDSHAKE)
    assert server.scope["path"] == "/ws/" and (await server.inbox.get())["type"] == "websocket.connect"
    protocol.handle_reply({"type": "websocket.accept"})
    assert b"101 Switching Protocols" in transport.value()
    for name in daphne_compat.HANDSHAKE_ONLY:
        assert not hasattr(protocol, name)
    assert protocol.request.path == "/ws/"
    protocol.dataReceived(_masked_text_frame('{"action": "ping"}'))
    assert await server.inbox.get() == {"type": "websocket.receive", "text": '{"action": "ping"}'}
    assert protocol.current_frame_masker is None and protocol.state == protocol.STATE_OPEN
    # The values that wait for an error or the close are the class's until written.
    assert protocol.wasClean is False and protocol.localCloseCode is None
    assert "wasClean" not in vars(protocol) and sys.getsizeof(vars(protocol)) < 1000
    # A keepalive ping and its pong (daphne pings idle sockets) leave it at that size.
    protocol._sendAutoPing()
    frame = protocol.autoPingPending
    protocol.dataReceived(bytes([0x8A, 0x80 | len(frame)]) + b"\0\0\0\0" + frame)
    assert protocol.autoPingPending is None and sys.getsizeof(vars(protocol)) < 1000
    protocol.sendClose(code=1000)
    assert protocol.closedByMe is True and protocol.localCloseCode == 1000
    assert type(protocol).closedByMe is False
