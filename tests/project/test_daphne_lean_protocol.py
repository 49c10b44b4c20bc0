"""project/daphne_compat.py keeps daphne's per-connection protocol lean: autobahn's options
are class attributes of a subclass (one per set of values) instead of ~30 instance
attributes, the send queue is a list, and the opening handshake is dropped once open."""

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
