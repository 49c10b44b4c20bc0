"""REST: the same services as the socket (snapshot, draw, erase), permissions, SVG export."""

import xml.etree.ElementTree as ET

import pytest

from realtime.models import Event
from tests.whiteboard.conftest import GOOD_DATA, changed, new_shape
from whiteboard import services

pytestmark = pytest.mark.django_db
SVG = "{http://www.w3.org/2000/svg}"


def url(room, tail=""):
    return f"/api/boards/{room.slug}/{tail}"


def test_draw_update_conflict_and_erase_over_rest(room, user, api_as, api):
    client = api_as(user)
    shape = new_shape("rect")
    created = client.post(url(room, "shapes/"), {"shape": shape}, format="json")
    assert created.status_code == 201
    assert created.json()["shape"]["version"] == 1
    updated = client.post(url(room, "shapes/"), {"shape": changed(shape, 1, w=5)}, format="json")
    assert updated.status_code == 200 and updated.json()["shape"]["data"]["w"] == 5
    stale = client.post(url(room, "shapes/"), {"shape": changed(shape, 1, w=9)}, format="json")
    assert stale.status_code == 409
    error = stale.json()["error"]
    assert error["code"] == "conflict" and error["data"]["shape"]["version"] == 2
    assert client.delete(url(room, f"shapes/{shape['id']}/?version=1")).status_code == 409
    erased = client.delete(url(room, f"shapes/{shape['id']}/?version=2"))
    assert erased.status_code == 200 and erased.json() == {"id": shape["id"], "version": 3}
    assert client.delete(url(room, f"shapes/{shape['id']}/")).status_code == 404
    snap = api.get(url(room))
    assert snap.status_code == 200 and snap.json() == {"shapes": [], "seq": 3}
    names = list(Event.objects.filter(topic=f"board:{room.slug}").values_list("event", flat=True))
    assert names == ["board.shape", "board.shape", "board.erased"]


def test_invalid_input_names_the_field(room, user, api_as):
    client = api_as(user)
    bad = new_shape("note")
    bad["data"]["color"] = "yellow"
    response = client.post(url(room, "shapes/"), {"shape": bad}, format="json")
    assert response.status_code == 400
    assert response.json()["error"] == {"code": "invalid", "message": "colour must look like #rrggbb.",
                                        "field": "shape.data.color"}
    response = client.post(url(room, "shapes/"), {"kind": "note"}, format="json")
    assert (response.status_code, response.json()["error"]["field"]) == (400, "shape")
    response = client.delete(url(room, f"shapes/{new_shape()['id']}/?version=x"))
    assert (response.status_code, response.json()["error"]["field"]) == (400, "version")


def test_private_board_is_not_found_for_outsiders_and_anonymous(make_room, make_user, user, api, api_as):
    private = make_room(user, is_private=True)
    services.shape_draw(room=private, user=user, shape=new_shape())
    outsider = api_as(make_user())
    for client in (outsider, api):
        assert client.get(url(private)).status_code == 404
        assert client.get(url(private, "export.svg")).status_code == 404
    response = outsider.post(url(private, "shapes/"), {"shape": new_shape()}, format="json")
    assert response.status_code == 404
    assert api_as(user).get(url(private)).json()["seq"] == 1
    assert api.get("/api/boards/no-such-room/").status_code == 404


def test_anonymous_reads_a_public_board_but_may_not_draw(room, user, api):
    services.shape_draw(room=room, user=user, shape=new_shape())
    assert len(api.get(url(room)).json()["shapes"]) == 1
    response = api.post(url(room, "shapes/"), {"shape": new_shape()}, format="json")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"


def test_svg_export_is_xml_with_every_live_shape_in_z_order_and_escaped_text(room, user, api):
    drawn = {}
    for kind in sorted(GOOD_DATA):
        drawn[kind] = services.shape_draw(room=room, user=user, shape=new_shape(kind))
    script = new_shape("text")
    script["data"]["text"] = '</text><script>alert("x")</script> & ]]> <!--'
    script_row = services.shape_draw(room=room, user=user, shape=script)
    dot = services.shape_draw(room=room, user=user, shape=new_shape("stroke", data={
        "points": [[-500, 1200]], "color": "#000000", "width": 10}))
    gone = services.shape_draw(room=room, user=user, shape=new_shape("rect"))
    services.shape_erase(room=room, user=user, shape_id=str(gone.shape_id))

    response = api.get(url(room, "export.svg"), HTTP_ACCEPT="image/svg+xml")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("image/svg+xml")
    assert "default-src 'none'" in response["Content-Security-Policy"]
    root = ET.fromstring(response.content)
    assert root.tag == f"{SVG}svg"
    left, top, width, height = map(float, root.get("viewBox").split())
    assert left <= -500 and top + height >= 1200  # grown to include the off-board dot
    ids = [el.get("id") for el in root if el.get("id", "").startswith("shape-")]
    expected = [*drawn.values(), script_row, dot]
    assert ids == [f"shape-{row.shape_id}" for row in expected]  # z order = draw order
    assert f"shape-{gone.shape_id}" not in response.content.decode()
    assert not list(root.iter(f"{SVG}script"))
    by_id = {el.get("id"): el for el in root}

    def text_of(row):
        return "\n".join(span.text or "" for span in by_id[f"shape-{row.shape_id}"].iter(f"{SVG}tspan"))

    assert text_of(script_row) == script["data"]["text"]
    assert text_of(drawn["text"]) == GOOD_DATA["text"]["text"]
    assert text_of(drawn["note"]) == GOOD_DATA["note"]["text"]
    assert by_id[f"shape-{drawn['stroke'].shape_id}"].tag == f"{SVG}polyline"
    assert by_id[f"shape-{drawn['ellipse'].shape_id}"].get("fill") == "#eeeeee"
    assert by_id[f"shape-{dot.shape_id}"].tag == f"{SVG}circle"
    assert root.find(f"{SVG}title").text == room.name


def test_openapi_schema_documents_the_board_endpoints(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    for path in ("/api/boards/{slug}/", "/api/boards/{slug}/shapes/",
                 "/api/boards/{slug}/shapes/{shape_id}/", "/api/boards/{slug}/export.svg"):
        assert path in schema["paths"], path
    post = schema["paths"]["/api/boards/{slug}/shapes/"]["post"]
    assert "requestBody" in post and "201" in post["responses"]
