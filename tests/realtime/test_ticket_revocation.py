"""revoke_tickets against tickets issued at the same moment (issue 19: could a race void
or leak a just-issued ticket?).  Real Redis, real threads: whatever the interleaving, a
ticket that is still redeemable is still listed under its user, so the next logout or
deactivation voids it."""

import threading

from realtime.auth import TICKET_PREFIX, USER_TICKETS_PREFIX, issue_ticket, revoke_tickets
from realtime.redis import sync_client

ROUNDS = 300


def test_no_ticket_outlives_its_users_list_when_issued_during_a_revocation(user):
    client = sync_client()
    issued, stop = [], threading.Event()

    def issue():
        while not stop.is_set():
            issued.append(issue_ticket(user))

    thread = threading.Thread(target=issue)
    thread.start()
    try:
        for _ in range(ROUNDS):
            revoke_tickets(user.pk)
    finally:
        stop.set()
        thread.join()
    listed = {t.decode() for t in client.smembers(USER_TICKETS_PREFIX + str(user.pk))}
    alive = [t for t in issued if client.exists(TICKET_PREFIX + t)]
    assert issued and set(alive) <= listed
    revoke_tickets(user.pk)
    assert not any(client.exists(TICKET_PREFIX + t) for t in issued)
