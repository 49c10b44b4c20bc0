"""The Channels tutorial chat app, as a minimal standalone Django project (the textbook baseline)."""
