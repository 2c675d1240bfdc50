"""plotly.js is served by Cadre itself (no CDN): the finder exposes the wheel's file and nothing else."""
from django.contrib.staticfiles import finders


def test_plotly_is_served_from_the_installed_wheel(client):
    response = client.get("/static/vendor/plotly.min.js")
    assert response.status_code == 200
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert b"plotly" in body[:2000].lower()


def test_only_plotly_min_js_is_exposed():
    assert finders.find("vendor/plotly.min.js")
    assert finders.find("vendor/widgetbundle.js") is None
    assert finders.find("vendor/datasets/iris.csv") is None
