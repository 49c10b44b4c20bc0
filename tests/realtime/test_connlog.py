"""The Connection table's batched writes (realtime.store.write_connection_log)."""

import uuid

import pytest

from realtime import store
from realtime.models import Connection

pytestmark = pytest.mark.django_db


def _open(user_id, address="10.0.0.1", agent="test-agent"):
    return ("open", {"connection_id": str(uuid.uuid4()), "user_id": user_id, "address": address,
                     "user_agent": agent, "instance": "web-1"})


def test_opens_and_closes_of_one_batch_are_written_in_order(user):
    a, b = _open(user.pk), _open(None)
    store.write_connection_log([a, b, ("close", {"id": a[1]["connection_id"], "code": 1000})])
    rows = {str(r.id): r for r in Connection.objects.all()}
    closed, still_open = rows[a[1]["connection_id"]], rows[b[1]["connection_id"]]
    assert (closed.user_id, closed.close_code, closed.client_address, closed.user_agent,
            closed.server_instance) == (user.pk, 1000, "10.0.0.1", "test-agent", "web-1")
    assert closed.closed_at is not None and closed.opened_at is not None
    assert still_open.user_id is None and still_open.closed_at is None


def test_a_user_deleted_since_connecting_does_not_fail_the_batch(make_user):
    gone, kept = make_user("gone"), make_user("kept")
    records = [_open(gone.pk), _open(kept.pk)]
    gone.delete()
    store.write_connection_log(records)  # the foreign key would refuse the whole batch
    users = {str(r.id): r.user_id for r in Connection.objects.all()}
    assert users == {records[0][1]["connection_id"]: None, records[1][1]["connection_id"]: kept.pk}


def test_a_retried_batch_writes_each_row_once_and_long_values_are_cut(user):
    records = [_open(user.pk, address="a" * 100, agent="g" * 500) for _ in range(3)]
    store.write_connection_log(records)
    store.write_connection_log(records)  # the commit's answer was lost: written again
    assert Connection.objects.count() == 3
    row = Connection.objects.first()
    assert (len(row.client_address), len(row.user_agent)) == (64, 300)


def test_a_storm_sized_batch_is_written_whole(user):
    records = [_open(user.pk if i % 2 else None) for i in range(2500)]
    store.write_connection_log(records)
    assert Connection.objects.count() == 2500
    assert Connection.objects.filter(user=user).count() == 1250
