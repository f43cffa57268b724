"""The PySide6 user interface: the only package allowed to import Qt."""
