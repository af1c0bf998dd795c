"""Spine-order clinical decision support: a CDS Hooks 2.0 service.

The engine lives here (app, protocol, FHIR access, security); service
definitions live in ``hooks/``, card content in ``cards/`` and code value sets
and settings in ``config/``.
"""

__version__ = "0.1.0"
