"""Paths shared by the test modules (a plain module: conftest.py holds only fixtures)."""
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
ALL_SPECS = sorted(p for p in SPECS.glob("*.yaml"))
