"""archspec's version: one definition, read by the package, the generated sources and pyproject.toml."""
__version__ = "0.1.0"
