"""Annotated images in, DESIGN.md tensors out."""
