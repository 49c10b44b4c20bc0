from django.urls import path

from whiteboard import api

urlpatterns = [
    path("api/boards/<str:slug>/", api.BoardView.as_view(), name="board"),
    path("api/boards/<str:slug>/shapes/", api.ShapesView.as_view(), name="board-shapes"),
    path("api/boards/<str:slug>/shapes/<uuid:shape_id>/", api.ShapeView.as_view(), name="board-shape"),
    path("api/boards/<str:slug>/export.svg", api.ExportView.as_view(), name="board-export"),
]
