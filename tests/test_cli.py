import subprocess
import sys


def test_python_m_gil_prints_help():
    result = subprocess.run([sys.executable, "-m", "gil", "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    assert "data" in result.stdout
