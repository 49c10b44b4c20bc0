from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """A person.  Custom from the first migration so fields can be added later."""

    display_name = models.CharField(max_length=80, blank=True)

    def get_display_name(self):
        """The name shown beside messages, cursors and presence."""
        return self.display_name or self.username

    def public_dict(self):
        """The user as every event and API response shows them (no private fields):
        realtime.public_user, the one definition of that shape."""
        from realtime import public_user

        return public_user(self)
