"""Who counts as signed in: the one definition every app's permission rules start from."""


def signed_in(user):
    """Called by chat, feeds and whiteboard rules before any right that needs an account: an
    authenticated user whose account is active.  A deactivated account holds no rights, even
    while an old session or socket ticket still names it."""
    return bool(getattr(user, "is_authenticated", False)) and user.is_active
