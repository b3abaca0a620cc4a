"""The environment record: lock parsing and the comparison with the installed versions."""

from gil.experiments import provenance


def test_read_lock_takes_pins_and_skips_comments_and_options(tmp_path):
    lock = tmp_path / "requirements.lock"
    lock.write_text(
        "# header torch==9.9 in a comment\n--find-links /x\nNumPy==2.4.6\n    # via pandas\n"
        "torch==2.13.0+cpu ; sys_platform == 'linux'\njupyter_core==5.9.1\n"
    )
    assert provenance.read_lock(lock) == {"numpy": "2.4.6", "torch": "2.13.0+cpu", "jupyter-core": "5.9.1"}


def test_lock_differences_names_each_package_off_the_lock():
    lock = {"numpy": "2.4.6", "torch": "2.13.0+cpu", "scipy": "1.17.1"}
    installed = {"numpy": "2.4.6", "torch": "2.11.0+cu130", "pip": "26.3"}
    assert provenance.lock_differences(lock, installed) == {
        "torch": ("2.13.0+cpu", "2.11.0+cu130"),
        "scipy": ("1.17.1", None),
    }


def test_environment_describes_this_interpreter():
    env = provenance.environment()
    assert env["gil"] and env["python"].count(".") == 2
    assert len(env["packages_sha256"]) == 16


def test_make_setup_installed_exactly_the_lock():
    """In the checkout's ``.venv`` made by ``make setup`` (as CI's), every locked version is the installed one."""
    import sys
    from pathlib import Path

    import pytest

    from gil.experiments.project import checkout

    root = checkout()
    if root is None or Path(sys.prefix).resolve() != (root / ".venv").resolve():
        pytest.skip("not running in the checkout's .venv")
    if (root / ".venv" / "lock-without-torch.txt").is_file():
        pytest.skip("set up with KEEP_TORCH=1: torch is the user's own")
    off = provenance.lock_differences(provenance.read_lock(root / "requirements.lock"), provenance.installed_packages())
    assert not off, f"installed versions differ from requirements.lock: {off}"
    assert provenance.environment()["lock"]["matches"]
