"""Revoking an API token voids the connect tickets issued meanwhile, and closes (4401) the
sockets opened with a ticket issued over it: a ticket is how a token becomes a socket, so
a revoked token must neither open one during a ticket's 30 s nor keep one open."""

from django.db import transaction
from django.db.models.signals import post_delete
from rest_framework.authtoken.models import Token

from realtime import announce_rights_changed, revoke_tickets, session_digest


def _token_deleted(sender, instance, **kwargs):
    user_id = instance.user_id
    transaction.on_commit(lambda: revoke_tickets(user_id))
    announce_rights_changed([user_id], gone=[session_digest(instance.key)])


def connect():
    post_delete.connect(_token_deleted, sender=Token, dispatch_uid="accounts.token-revoked")
