"""The site's HTML pages: home, a room (chat + whiteboard), a feed.

The pages are thin: they check access, then render a template with the few facts the
page's ES module needs (as json_script, so names are escaped) and let the module load
everything else over the socket and the REST API, the same way any client does.
Models are only read here; every change goes through the apps' services via the API.
"""

from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import Http404
from django.shortcuts import render
from django.urls import path


def _user_dict(user):
    if not user.is_authenticated:
        return None
    return {"id": user.pk, "username": user.get_username(), "display_name": user.get_display_name()}


def _not_visible(request, message):
    """The one answer for a room or feed this visitor may not read, whether it is missing or
    private: a private one's existence is never revealed.  Anonymous visitors are sent to
    log in (a member following a link while logged out gets in afterwards), signed-in ones
    get 404; a missing slug gets exactly the same, so neither answer tells them apart."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    raise Http404(message)


@login_required
def home(request):
    return render(request, "home.html", {"page_data": {"user": _user_dict(request.user)}})


def room(request, slug):
    """A room's chat, whiteboard and presence list; rooms the user may not read answer
    like missing ones (_not_visible)."""
    from chat import permissions
    from chat.models import Room

    room = Room.objects.filter(slug=slug).first()
    if room is None or not permissions.can_read(request.user, room):
        return _not_visible(request, "No such room.")
    membership = permissions.membership(request.user, room)
    data = {
        "user": _user_dict(request.user),
        "room": {"slug": room.slug, "name": room.name, "description": room.description,
                 "is_private": room.is_private, "archived": room.archived},
        "can_write": permissions.can_write(request.user, room),
        "is_owner": permissions.is_owner(request.user, room),
        # Where the unread marker goes (0: everything is new, None: not a member yet).
        "last_read_id": membership.last_read_message_id if membership else None,
        "topics": {"chat": f"room:{room.slug}", "board": f"board:{room.slug}"},
    }
    return render(request, "room.html", {"room": room, "page_data": data})


def feed(request, slug):
    """A live feed; public feeds are readable anonymously, others answer like missing ones."""
    from feeds.models import Feed
    from feeds.permissions import can_read

    feed = Feed.objects.filter(slug=slug).first()
    if feed is None or not can_read(request.user, feed):
        return _not_visible(request, "No such feed.")
    data = {
        "user": _user_dict(request.user),
        "feed": {"slug": feed.slug, "title": feed.title, "description": feed.description},
        "topic": f"feed:{feed.slug}",
        "items_url": f"/api/feeds/{feed.slug}/items/",
    }
    return render(request, "feed.html", {"feed": feed, "page_data": data})


urlpatterns = [
    path("", home, name="home"),
    path("rooms/<slug:slug>/", room, name="room"),
    path("feeds/<slug:slug>/", feed, name="feed"),
]
