"""Puppet: still portraits that move with you."""
__version__ = "0.1.0"
