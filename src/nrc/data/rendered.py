"""Temporary bridge for callers written before `nrc.data.images.rendered`."""

from nrc.data.images.rendered import load_rendered

__all__ = ["load_rendered"]
