"""Service-request status from a municipality's Open311 GeoReport v2 server."""
