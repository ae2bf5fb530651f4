"""Portico: a serverless API gateway and service mesh for AWS."""

__version__ = "0.1.0"
