"""A missing Python module says what to do instead."""

from __future__ import annotations

from runner.python.hints import with_import_hint


def test_an_http_package_points_at_pnil_fetch():
    message = "ModuleNotFoundError: No module named 'requests'\nTraceback (most recent call last):\n  ..."

    hinted = with_import_hint(message)

    assert hinted.startswith("ModuleNotFoundError: No module named 'requests' (requests is not available")
    assert "pnil.fetch" in hinted and hinted.endswith("\nTraceback (most recent call last):\n  ...")


def test_another_package_points_at_the_standard_library():
    hinted = with_import_hint("ModuleNotFoundError: No module named 'numpy.linalg'")

    assert "numpy is not available" in hinted and "standard library" in hinted and "PyPI" in hinted


def test_other_errors_are_unchanged():
    assert with_import_hint("ValueError: nope") == "ValueError: nope"
