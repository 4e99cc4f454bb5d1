"""Boundary and exchange data: load, validate, project, overlap, and the point/number index."""
