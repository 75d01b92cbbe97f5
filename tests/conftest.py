import pytest


@pytest.fixture
def spec_file(tmp_path, monkeypatch):
    """Write a spec text to a file in a temporary working directory; return its relative path."""
    monkeypatch.chdir(tmp_path)

    def write(text: str, name: str = "net.yaml") -> str:
        (tmp_path / name).write_text(text)
        return name
    return write


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path
