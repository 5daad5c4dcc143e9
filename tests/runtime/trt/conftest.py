"""Session fixtures of the TensorRT family tests: every family exported once (tiny)."""

from __future__ import annotations

import pytest

from tests.runtime.trt.families import FamilyModels


@pytest.fixture(scope="session")
def family_models(tmp_path_factory: pytest.TempPathFactory) -> FamilyModels:
    pytest.importorskip("torch")
    return FamilyModels(tmp_path_factory.mktemp("families"))
