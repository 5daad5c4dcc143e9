"""The web page in a real headless Chromium (Debian's chromium + chromium-driver, driven by Selenium).

Uploads a photo, waits for the stylized result and checks its size; mixes two styles with the
sliders of a multi-style model; picks a style image for a style-swap model; shows an error for a
file that is not an image. Skipped only where Chromium or its driver is absent.
``NST_SERVE_SCREENSHOT=path.png`` keeps a screenshot of the page with the bundled model's result
(docs/images/serve.png is made this way).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from nst.runtime.stylizer import default_model_path
from nst.serve.options import ServeOptions
from tests.serve.conftest import serving

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and DRIVER), reason="Debian's chromium + chromium-driver absent"
)
PHOTO = Path(str(default_model_path())).with_name("sample_chelsea.jpg")  # 451 x 300
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1280,720")  # fmt: skip


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="nst-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=str(DRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def result_size(driver: object, previous: str | None, timeout: float = 20) -> tuple[int, int]:
    """Wait until the result image shows a new picture; its natural (width, height)."""
    from selenium.webdriver.support.ui import WebDriverWait

    def loaded(d: object) -> bool:
        return bool(d.execute_script(  # type: ignore[attr-defined]
            "const img = document.getElementById('result');"
            "return img.complete && img.naturalWidth > 0 && img.src !== arguments[0];", previous or ""
        ))  # fmt: skip

    WebDriverWait(driver, timeout).until(loaded)
    return tuple(driver.execute_script(  # type: ignore[attr-defined,return-value]
        "const img = document.getElementById('result'); return [img.naturalWidth, img.naturalHeight];"
    ))  # fmt: skip


def test_page_uploads_stylizes_and_offers_the_result(browser: object, model_files: dict[str, Path],
                                                     tmp_path: Path) -> None:  # fmt: skip
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    d = browser
    models = {"default": default_model_path(), "mix": model_files["mix"], "swap": model_files["swap"]}
    with serving(ServeOptions(models=models)) as url:
        d.get(url)  # type: ignore[attr-defined]
        WebDriverWait(d, 10).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#model option")) == 3)
        d.find_element(By.ID, "photo").send_keys(str(PHOTO))  # type: ignore[attr-defined]
        d.find_element(By.ID, "stylize").click()  # type: ignore[attr-defined]
        assert result_size(d, None) == (451, 300)
        status = d.find_element(By.ID, "status").text  # type: ignore[attr-defined]
        assert status.startswith("451x300 with default in"), status
        link = d.find_element(By.ID, "download")  # type: ignore[attr-defined]
        assert link.is_displayed() and link.get_attribute("href").startswith("blob:")
        assert link.get_attribute("download") == "stylized.png"
        d.save_screenshot(os.environ.get("NST_SERVE_SCREENSHOT") or str(tmp_path / "serve.png"))  # type: ignore[attr-defined]

        first = d.find_element(By.ID, "result").get_attribute("src")  # type: ignore[attr-defined]
        Select(d.find_element(By.ID, "model")).select_by_value("mix")  # type: ignore[attr-defined]
        sliders = d.find_elements(By.CSS_SELECTOR, "input.weight")  # type: ignore[attr-defined]
        assert len(sliders) == 2
        d.execute_script(  # type: ignore[attr-defined]
            "const s = arguments[0]; s.value = 100; s.dispatchEvent(new Event('input'));", sliders[1]
        )
        outputs = [o.text for o in d.find_elements(By.CSS_SELECTOR, ".slider output")]  # type: ignore[attr-defined]
        assert outputs == ["50%", "50%"]
        Select(d.find_element(By.ID, "format")).select_by_value("image/jpeg")  # type: ignore[attr-defined]
        d.find_element(By.ID, "stylize").click()  # type: ignore[attr-defined]
        assert result_size(d, first) == (451, 300)
        assert "with mix in" in d.find_element(By.ID, "status").text  # type: ignore[attr-defined]
        assert d.find_element(By.ID, "download").get_attribute("download") == "stylized.jpg"  # type: ignore[attr-defined]

        second = d.find_element(By.ID, "result").get_attribute("src")  # type: ignore[attr-defined]
        Select(d.find_element(By.ID, "model")).select_by_value("swap")  # type: ignore[attr-defined]
        assert not d.find_element(By.ID, "styles").is_displayed()  # type: ignore[attr-defined]
        d.find_element(By.ID, "stylize").click()  # type: ignore[attr-defined]
        WebDriverWait(d, 10).until(lambda d: "style image" in d.find_element(By.ID, "status").text)
        d.find_element(By.ID, "style-image").send_keys(str(PHOTO))  # type: ignore[attr-defined]
        d.find_element(By.ID, "stylize").click()  # type: ignore[attr-defined]
        assert result_size(d, second) == (451, 300)
        assert "with swap in" in d.find_element(By.ID, "status").text  # type: ignore[attr-defined]

        not_image = tmp_path / "notes.png"
        not_image.write_text("not an image")
        d.find_element(By.ID, "photo").send_keys(str(not_image))  # type: ignore[attr-defined]
        d.find_element(By.ID, "stylize").click()  # type: ignore[attr-defined]
        WebDriverWait(d, 10).until(
            lambda d: d.find_element(By.ID, "status").get_attribute("class") == "error"
        )
        assert d.find_element(By.ID, "status").text.startswith("400: cannot read image upload 'image'")  # type: ignore[attr-defined]
