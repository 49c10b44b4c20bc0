from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """A person.  Custom from the first migration so fields can be added later."""

    display_name = models.CharField(max_length=80, blank=True)

    def get_display_name(self):
        """The name shown beside messages, cursors and presence."""
        return self.display_name or self.username

    def public_dict(self):
        """The user as every event and API response shows them (no private fields)."""
        return {"id": self.pk, "username": self.username, "display_name": self.get_display_name()}
