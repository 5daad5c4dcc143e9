"""Every endpoint of ``nst serve`` over a real uvicorn server on 127.0.0.1, with tiny models."""

from __future__ import annotations

import re

import httpx
import numpy as np
import pytest

from tests.serve.conftest import decoded, encoded


@pytest.fixture(scope="module")
def client(server: str):
    with httpx.Client(base_url=server, timeout=10) as c:
        yield c


def test_health_and_readiness(client: httpx.Client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"ready": True, "queue_depth": {"tiny": 0, "mix": 0, "swap": 0}}


def test_models_lists_family_styles_inputs_and_limits(client: httpx.Client) -> None:
    body = client.get("/v1/models").json()
    assert body["default"] == "tiny"
    by_name = {m["name"]: m for m in body["models"]}
    assert list(by_name) == ["tiny", "mix", "swap"]
    mix = by_name["mix"]
    assert mix["family"] == "cin" and mix["styles"] == ["red", "blue"]
    assert [t["name"] for t in mix["inputs"]] == ["image", "style_weights"]
    assert mix["needs"] == {"style_choice": True, "num_styles": 2, "style_image": False, "seed": False}
    assert by_name["swap"]["needs"]["style_image"] is True
    assert by_name["tiny"]["default"] is True and by_name["tiny"]["file"] == "tiny.onnx"
    assert body["limits"]["max_pixels"] == 200_000


def test_stylize_multipart_png(client: httpx.Client) -> None:
    r = client.post("/v1/stylize", files={"image": ("photo.jpg", encoded(40, 30, "JPEG"), "image/jpeg")})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png"
    assert r.headers["x-model"] == "tiny" and r.headers["x-image-size"] == "40x30"
    image = decoded(r.content)
    assert image.format == "PNG" and image.size == (40, 30)


def test_stylize_raw_body_jpeg_by_accept(client: httpx.Client) -> None:
    r = client.post(
        "/v1/stylize", content=encoded(33, 17), headers={"Content-Type": "image/png", "Accept": "image/jpeg"}
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/jpeg"
    assert decoded(r.content).size == (33, 17)


def test_alpha_comes_back_in_png(client: httpx.Client) -> None:
    r = client.post(
        "/v1/stylize", content=encoded(20, 20, mode="RGBA"), headers={"Content-Type": "image/png"}
    )
    assert r.status_code == 200
    assert decoded(r.content).mode == "RGBA"


def test_multistyle_by_name_index_and_weights(client: httpx.Client) -> None:
    files = {"image": ("p.png", encoded(24, 24), "image/png")}
    red = client.post("/v1/stylize", params={"model": "mix", "style": "red"}, files=files)
    blue = client.post("/v1/stylize", data={"model": "mix", "style": "1"}, files=files)
    mixed = client.post("/v1/stylize", data={"model": "mix", "style_weights": "0.5,0.5"}, files=files)
    assert [r.status_code for r in (red, blue, mixed)] == [200, 200, 200]
    means = [np.asarray(decoded(r.content), np.float32).mean(axis=(0, 1)) for r in (red, blue, mixed)]
    assert means[0][0] > means[0][2] and means[1][2] > means[1][0]  # red, then blue
    assert abs(means[2][0] - means[2][2]) < 3  # an even mix


def test_styleswap_takes_a_style_image(client: httpx.Client) -> None:
    files = {
        "image": ("p.png", encoded(24, 24), "image/png"),
        "style_image": ("s.png", encoded(40, 30), "image/png"),
    }
    r = client.post("/v1/stylize", data={"model": "swap"}, files=files)
    assert r.status_code == 200, r.text
    assert decoded(r.content).size == (24, 24)


def test_styleswap_strength_goes_into_the_graph(client: httpx.Client) -> None:
    photo = encoded(24, 24)
    files = {"image": ("p.png", photo, "image/png"), "style_image": ("s.png", encoded(40, 30), "image/png")}
    outs = {}
    for strength in ("0", "1"):
        r = client.post("/v1/stylize", data={"model": "swap", "strength": strength}, files=files)
        assert r.status_code == 200, r.text
        outs[strength] = np.asarray(decoded(r.content), np.float32)
    rgb = np.asarray(decoded(photo), np.float32) / 255
    expected = 255 / (1 + np.exp(-rgb))  # strength 0 in the graph: sigmoid(image), not the photo
    assert np.abs(outs["0"] - expected).max() <= 1
    assert np.abs(outs["1"] - outs["0"]).max() > 10  # the style's colour comes back at 1


@pytest.mark.parametrize(
    ("params", "status", "message"),
    [
        ({"model": "nope"}, 404, r"no model 'nope' \(served: tiny, mix, swap\)"),
        ({"model": "mixx"}, 404, "did you mean 'mix'"),
        ({"model": "mix"}, 400, "mixes 2 styles"),
        ({"model": "mix", "style": "green"}, 400, "unknown style 'green'"),
        ({"model": "mix", "style": "5"}, 400, "out of range"),
        ({"model": "mix", "style_weights": "0.3,0.3"}, 400, "must sum to 1"),
        ({"model": "mix", "style_weights": "0.5,0.5,0"}, 400, "need 2 values"),
        ({"model": "mix", "style_weights": "a,b"}, 400, "comma-separated numbers"),
        ({"model": "mix", "style": "red", "style_weights": "1,0"}, 400, "not both"),
        ({"style": "red"}, 400, "this model has one style"),
        ({"seed": "3"}, 400, "takes no noise"),
        ({"seed": "-1"}, 400, "non-negative integer"),
        ({"model": "swap"}, 400, "needs a style image"),
        ({"stlye": "red"}, 400, "did you mean 'style'"),
    ],
)
def test_bad_options_are_clear_json_errors(
    client: httpx.Client, params: dict, status: int, message: str
) -> None:
    r = client.post("/v1/stylize", params=params, files={"image": ("p.png", encoded(20, 20), "image/png")})
    assert r.status_code == status
    assert r.headers["content-type"] == "application/json"
    assert re.search(message, r.json()["error"]), r.json()


@pytest.mark.parametrize(
    ("kwargs", "status", "message"),
    [
        ({"files": {"image": ("a.png", b"not an image", "image/png")}}, 400, "upload 'image': not an image"),
        ({"files": {"image": ("a.png", encoded(30, 30)[:60], "image/png")}}, 400, "corrupt or truncated"),
        ({"files": {"image": ("a.png", b"", "image/png")}}, 400, "is empty"),
        ({"files": {"photo": ("a.png", encoded(20, 20), "image/png")}}, 400, "unknown file field 'photo'"),
        ({"data": {"model": "tiny"}, "files": {"style_image": ("s.png", encoded(20, 20), "image/png")}},
         400, "without file field 'image'"),
        ({"content": b"{}", "headers": {"Content-Type": "application/json"}}, 415, "multipart field 'image'"),
        ({"files": {"image": ("a.png", encoded(8, 8), "image/png")}}, 400, "too small"),
        ({"files": {"image": ("a.png", encoded(500, 500), "image/png")}}, 400, "too large to read safely"),
        ({"files": {"image": ("a.png", encoded(20, 20), "image/png")}, "headers": {"Accept": "text/html"}},
         406, "image/png, image/jpeg"),
        ({"files": {"image": ("a.png", encoded(20, 20), "image/png"),
                    "style_image": ("s.png", encoded(20, 20), "image/png")}}, 400, "needs a style-swap"),
    ],
)  # fmt: skip
def test_bad_input_is_a_clear_json_error(
    client: httpx.Client, kwargs: dict, status: int, message: str
) -> None:
    r = client.post("/v1/stylize", **kwargs)
    assert r.status_code == status, r.text
    assert re.search(message, r.json()["error"]), r.json()


def test_body_limit_413_by_content_length_and_while_streaming(client: httpx.Client) -> None:
    big = b"\0" * (1024 * 1024 + 10)  # the server's limit is 1 MiB
    r = client.post("/v1/stylize", content=big, headers={"Content-Type": "image/png"})
    assert r.status_code == 413 and "larger than 1 MiB" in r.json()["error"]

    def chunks():
        for _ in range(20):
            yield b"\0" * 65536

    r = client.post("/v1/stylize", content=chunks(), headers={"Content-Type": "image/png"})
    assert r.status_code == 413 and "larger than 1 MiB" in r.json()["error"]
    assert client.get("/healthz").status_code == 200


def test_unknown_route_and_wrong_method_are_json(client: httpx.Client) -> None:
    r = client.get("/v2/nothing")
    assert r.status_code == 404 and r.json() == {"error": "Not Found"}
    r = client.get("/v1/stylize")
    assert r.status_code == 405 and r.json() == {"error": "Method Not Allowed"}


def test_metrics_in_prometheus_text_format(client: httpx.Client) -> None:
    client.post("/v1/stylize", files={"image": ("p.png", encoded(20, 20), "image/png")})
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = r.text
    sample = re.compile(r'^[a-z_]+(\{([a-z_]+="[^"]*",?)*\})? [-+0-9.eInf]+$')
    for line in text.splitlines():
        assert line.startswith("# HELP ") or line.startswith("# TYPE ") or sample.match(line), line
    kinds = {"nst_serve_requests_total": "counter", "nst_serve_request_duration_seconds": "histogram",
             "nst_serve_queue_depth": "gauge", "nst_serve_batch_size": "histogram"}  # fmt: skip
    for name, kind in kinds.items():
        assert f"# TYPE {name} {kind}" in text
    assert re.search(r'nst_serve_requests_total\{model="tiny",status="200"\} [1-9]', text)
    assert re.search(r'nst_serve_requests_total\{model="",status="404"\} [1-9]', text)
    assert 'nst_serve_queue_depth{model="mix"} 0.0' in text
    assert re.search(r'nst_serve_batch_size_bucket\{model="tiny",le="\+Inf"\} [1-9]', text)


def test_web_page_and_its_files(client: httpx.Client) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert 'id="photo"' in page.text and "/static/app.js" in page.text
    for path in ("/static/app.js", "/static/style.css"):
        assert client.get(path).status_code == 200


def test_strength_and_preserve_color(client: httpx.Client) -> None:
    photo = encoded(24, 20)
    files = {"image": ("p.png", photo, "image/png")}
    r = client.post("/v1/stylize", params={"strength": "0"}, files=files)
    assert r.status_code == 200, r.text
    same = np.asarray(decoded(r.content), np.int16) - np.asarray(decoded(photo), np.int16)
    assert np.abs(same).max() <= 1  # strength 0: the photo itself
    r = client.post("/v1/stylize", params={"preserve_color": "true", "strength": "0.5"}, files=files)
    assert r.status_code == 200 and decoded(r.content).size == (24, 20)
    bad = (({"strength": "2"}, r"strength must be in \[0, 1\]"), ({"strength": "x"}, "must be a number"),
           ({"preserve_color": "maybe"}, "preserve_color must be true or false"))  # fmt: skip
    for params, message in bad:
        r = client.post("/v1/stylize", params=params, files=files)
        assert r.status_code == 400 and re.search(message, r.json()["error"]), r.text
